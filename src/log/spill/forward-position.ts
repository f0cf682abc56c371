import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * How far a collector's spill log has been forwarded to Kafka: one number in
 * a file next to the spill segments, replaced atomically (write, fsync,
 * rename, fsync of the directory) after Kafka acknowledged everything below
 * it. A crash between the acknowledgement and this write forwards those
 * records again; their origin marks them as replays (log/spill/).
 */
export class ForwardPosition {
  private constructor(
    private readonly dir: string,
    private value: number,
  ) {}

  static async open(dir: string): Promise<ForwardPosition> {
    let value = 0;
    try {
      const text = (await readFile(join(dir, 'forwarded'), 'utf8')).trim();
      if (!/^\d{1,15}$/.test(text)) {
        throw new Error(`${join(dir, 'forwarded')} holds "${text.slice(0, 40)}", not an offset`);
      }
      value = Number(text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new ForwardPosition(dir, value);
  }

  get(): number {
    return this.value;
  }

  async set(offset: number): Promise<void> {
    const tmp = join(this.dir, 'forwarded.tmp');
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(`${offset}\n`);
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(tmp, join(this.dir, 'forwarded'));
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.value = offset;
  }
}
