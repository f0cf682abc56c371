#!/usr/bin/env node
// Thin launcher so the bin works straight after `npm ci` (prepare builds dist/).
import { main } from '../dist/src/cli/main.js';

// exit explicitly: a failed start must not linger on timers it left behind.
process.exit(await main(process.argv.slice(2)));
