import type { DedupDecision } from '../../aggregate/dedup-index.js';

/**
 * The Lua script that decides a batch of claims in one atomic step of Redis
 * (a script runs alone: no other client's command interleaves), in order, so
 * a later claim of the batch sees the entries of earlier ones.
 *
 * KEYS[1] is the instance sentinel, KEYS[1 + i] the entry key of claim i;
 * ARGV[1] the instance id this client opened with, ARGV[2i] and ARGV[2i + 1]
 * claim i's position (`<partition>:<offset>`) and expiresAt (ms, as digits).
 * It returns one character per claim: F (first) or D (duplicate).
 *
 * - The sentinel is checked first: missing or different means the state was
 *   lost (or re-created by another worker after a loss), and the whole batch
 *   fails with DEDUP_STATE_LOST before anything is decided.
 * - expiresAt <= now (Redis's clock): decided without writing, `first` only
 *   when a live entry holds this very position. An expired token's event is
 *   refused at the collector, so such a claim only comes from a late read of
 *   the log (a replay, or a worker lagging behind by more than the margins in
 *   expiresAt); recording it would create an entry that is already forgotten,
 *   and `first` for every copy would bill each again. `duplicate` bills none,
 *   depends on no earlier claim (so replays and batch splits decide alike),
 *   and reconciliation restores the rare first event read this late.
 * - otherwise `SET key position NX GET PXAT expiresAt`: one call that records
 *   a new entry (`first`) or returns the live one, which is `first` iff it
 *   holds this position (the replay of that very event after a crash);
 *   `PEXPIREAT ... GT` then extends it when this claim expires later.
 *
 * `#!lua` (no flags) declares a writing script: at maxmemory Redis refuses it
 * before it runs, rather than failing at its first write with half the batch
 * written. SET NX GET and PEXPIREAT GT need Redis 7.0.
 */
export const CLAIM_SCRIPT = `#!lua
local instance = redis.call('GET', KEYS[1])
if instance ~= ARGV[1] then
  if instance then
    return redis.error_reply('DEDUP_STATE_LOST the instance sentinel ' .. KEYS[1] .. ' was re-created (' .. instance .. ', not ' .. ARGV[1] .. ')')
  end
  return redis.error_reply('DEDUP_STATE_LOST the instance sentinel ' .. KEYS[1] .. ' is missing')
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local out = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local position = ARGV[2 * i - 2]
  local expiresAt = ARGV[2 * i - 1]
  if tonumber(expiresAt) <= now then
    out[i - 1] = (redis.call('GET', key) == position) and 'F' or 'D'
  else
    local held = redis.call('SET', key, position, 'NX', 'GET', 'PXAT', expiresAt)
    if not held then
      out[i - 1] = 'F'
    else
      redis.call('PEXPIREAT', key, expiresAt, 'GT')
      out[i - 1] = (held == position) and 'F' or 'D'
    end
  end
end
return table.concat(out)
`;

/** The error code the script answers with when the sentinel is missing or different. */
export const STATE_LOST_CODE = 'DEDUP_STATE_LOST';

/** Reads the script's reply for `count` claims into `into` from index `at`. */
export function decodeClaimReply(reply: unknown, count: number, into: DedupDecision[], at: number): void {
  if (typeof reply !== 'string' || reply.length !== count) {
    throw new Error(`the dedup script answered ${JSON.stringify(reply)?.slice(0, 80)} for ${count} claims`);
  }
  for (let i = 0; i < count; i++) into[at + i] = reply.charCodeAt(i) === 70 /* F */ ? 'first' : 'duplicate';
}
