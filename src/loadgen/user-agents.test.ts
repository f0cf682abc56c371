import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyUserAgent } from '../domain/user-agent.js';
import { BOT_USER_AGENTS, BROWSER_USER_AGENTS } from './user-agents.js';

// loadgen's ground truth assumes the collector classifies these lists as they are named.
describe('loadgen user agents', () => {
  it('are browsers to the collector', () => {
    for (const ua of BROWSER_USER_AGENTS) assert.equal(classifyUserAgent(ua), 'browser', ua);
  });
  it('are bots to the collector', () => {
    for (const ua of BOT_USER_AGENTS) assert.equal(classifyUserAgent(ua), 'bot', ua);
  });
});
