import { Catalog } from '../catalog/catalog.js';
import type { ServingStore } from '../store/open-store.js';

/**
 * The catalog held in memory by a process that is not its only writer (every
 * collector and api of a cluster): loaded once, then reloaded whenever the
 * store says it changed (PostgreSQL LISTEN/NOTIFY), so a paused ad stops
 * counting within a second. Reloads never overlap: a change noticed during one
 * schedules one more.
 */
export async function followCatalog(
  store: ServingStore,
  print: (line: string) => void,
): Promise<{ catalog: Catalog; close(): Promise<void> }> {
  const catalog = await Catalog.load(store.catalog);
  if (store.watchCatalog === undefined) return { catalog, close: () => Promise.resolve() };
  let running: Promise<void> | undefined;
  let again = false;
  const reload = (): void => {
    if (running !== undefined) {
      again = true;
      return;
    }
    // A rotated key must stop working here too: the cached ones are checked again.
    catalog.forgetKeys();
    running = catalog
      .reloadAds()
      .catch((err: unknown) =>
        print(`adtally: catalog reload failed, keeping the last one: ${(err as Error).message}`),
      )
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          reload();
        }
      });
  };
  const watch = await store.watchCatalog(reload, {
    onError: (err) => print(`adtally: catalog notifications interrupted (${err.message}); reconnecting`),
  });
  return {
    catalog,
    async close() {
      await watch.close();
      await running;
    },
  };
}
