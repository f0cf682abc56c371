import { after } from 'node:test';
import { dedupStoreContract } from '../dedup-store.contract.js';
import { openDedupStore } from '../open-dedup-store.js';
import { deleteKeysUnder, uniqueTestPrefix, urlWithPrefix } from './redis-test-keys.js';

// Each test gets its own prefix on the shared Redis; `reopen` opens the last one again.
const prefixes: string[] = [];
after(() => deleteKeysUnder(prefixes));

dedupStoreContract('RedisDedupStore', {
  open() {
    prefixes.push(uniqueTestPrefix());
    return openDedupStore(urlWithPrefix(prefixes.at(-1) as string));
  },
  reopen() {
    return openDedupStore(urlWithPrefix(prefixes.at(-1) as string));
  },
});
