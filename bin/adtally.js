#!/usr/bin/env node
// Thin launcher so the bin works straight after `npm ci` (prepare builds dist/).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
