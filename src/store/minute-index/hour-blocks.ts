import { COUNT_FIELDS, type BucketCounts } from '../../aggregate/counts.js';
import {
  ByteWriter,
  DENSE_HOUR_VALUES,
  MINUTES_PER_HOUR,
  addPackedInto,
  packHour,
  packHourInto,
  unpackHour,
} from './packed-hour.js';
import { COUNTERS, type SeriesSums } from './series-sums.js';

const MAX_COUNT = 0xffff_ffff;

/** Where `counts` lands when added to (or, with `replace`, written over) `values[base, base + COUNTERS)`. */
function changeCell(
  values: Uint32Array | Float64Array,
  base: number,
  counts: Readonly<BucketCounts>,
  replace: boolean,
): void {
  for (let f = 0; f < COUNTERS; f++) {
    const next = (replace ? 0 : values[base + f]!) + counts[COUNT_FIELDS[f]!];
    // An Uint32 cell would wrap silently; the index owner drops the index instead (see MinuteIndex).
    if (!Number.isInteger(next) || next < 0 || next > MAX_COUNT) {
      throw new RangeError(`count ${next} does not fit the in-memory minute index`);
    }
    values[base + f] = next;
  }
}

/** What the index keeps per hour: changeable, and readable into a series. */
export interface HourBlock {
  change(ad: number, offset: number, counts: Readonly<BucketCounts>, replace: boolean): void;
  addInto(ad: number, hourStartMinute: number, sums: SeriesSums): void;
}

/** An OpenHour's content in transferable form (see OpenHour.toTransfer). */
export interface OpenHourTransfer {
  readonly ads: Int32Array;
  readonly pages: readonly Uint32Array[];
}

/** Ads per page of an OpenHour: pages are never copied, so a growing hour costs no reallocation. */
const PAGE_ADS = 128;
const PAGE_VALUES = PAGE_ADS * DENSE_HOUR_VALUES;

/**
 * An hour that still takes counts (the current one, the last one): dense
 * Uint32 counters, one 60 x 12 slot per ad that has any (~2.9 KB an ad), in
 * pages of 128 ads. A cell is addressed by `slot * DENSE_HOUR_VALUES +
 * offset * COUNTERS`.
 */
export class OpenHour implements HourBlock {
  private readonly slotOf = new Map<number, number>();
  private readonly pages: Uint32Array[] = [];

  get adCount(): number {
    return this.slotOf.size;
  }

  private slot(ad: number): number {
    let slot = this.slotOf.get(ad);
    if (slot !== undefined) return slot;
    slot = this.slotOf.size;
    if (slot % PAGE_ADS === 0) this.pages.push(new Uint32Array(PAGE_VALUES));
    this.slotOf.set(ad, slot);
    return slot;
  }

  private page(cell: number): Uint32Array {
    return this.pages[Math.floor(cell / PAGE_VALUES)]!;
  }

  change(ad: number, offset: number, counts: Readonly<BucketCounts>, replace: boolean): void {
    const cell = this.cellOf(ad, offset);
    changeCell(this.page(cell), cell % PAGE_VALUES, counts, replace);
  }

  /** Where the counters of (ad, minute offset) start, for `addAt` (loading, one stored row at a time). */
  cellOf(ad: number, offset: number): number {
    return this.slot(ad) * DENSE_HOUR_VALUES + offset * COUNTERS;
  }

  /** Adds `value` to counter `field` of the cell at `cell` (from `cellOf`). */
  addAt(cell: number, field: number, value: number): void {
    const page = this.page(cell);
    const i = (cell % PAGE_VALUES) + field;
    const next = page[i]! + value;
    if (!Number.isInteger(next) || next < 0 || next > MAX_COUNT) {
      throw new RangeError(`count ${next} does not fit the in-memory minute index`);
    }
    page[i] = next;
  }

  /** Writes a whole dense hour (60 x 12 values) for `ad` (unsealing). */
  setDense(ad: number, dense: ArrayLike<number>): void {
    const cell = this.cellOf(ad, 0);
    this.page(cell).set(dense, cell % PAGE_VALUES);
  }

  addInto(ad: number, hourStartMinute: number, sums: SeriesSums): void {
    const slot = this.slotOf.get(ad);
    if (slot === undefined) return;
    const page = this.pages[Math.floor(slot / PAGE_ADS)]!;
    const base = (slot % PAGE_ADS) * DENSE_HOUR_VALUES;
    for (let offset = 0; offset < MINUTES_PER_HOUR; offset++) {
      for (let f = 0; f < COUNTERS; f++) {
        const value = page[base + offset * COUNTERS + f]!;
        if (value !== 0) sums.add(hourStartMinute + offset, f, value);
      }
    }
  }

  /**
   * The hour as plain typed arrays (ads in slot order, the pages), to post to
   * another thread with its buffers transferred rather than copied; this
   * block is not to be used afterwards.
   */
  toTransfer(): OpenHourTransfer {
    return { ads: Int32Array.from(this.slotOf.keys()), pages: this.pages };
  }

  /** The block `toTransfer` gave, on the receiving side. */
  static fromTransfer(transfer: OpenHourTransfer): OpenHour {
    const hour = new OpenHour();
    transfer.ads.forEach((ad, slot) => hour.slotOf.set(ad, slot));
    hour.pages.push(...transfer.pages);
    return hour;
  }

  /** The packed, read-mostly form of this hour (every ad's block in one buffer, ads sorted). */
  seal(): SealedHour {
    const ads = Int32Array.from(this.slotOf.keys()).sort();
    const starts = new Uint32Array(ads.length + 1);
    const out = new ByteWriter(ads.length * 256 + 16);
    ads.forEach((ad, i) => {
      starts[i] = out.length;
      const slot = this.slotOf.get(ad)!;
      packHourInto(out, this.pages[Math.floor(slot / PAGE_ADS)]!, (slot % PAGE_ADS) * DENSE_HOUR_VALUES);
    });
    starts[ads.length] = out.length;
    return new SealedHour(ads, starts, out.finish());
  }
}

/**
 * An hour that has ended: each ad's counts packed (see packHour), all in one
 * buffer, found by binary search over the sorted ad ids. A later change (a
 * repair, a straggler) re-packs that ad's block into `patched`.
 */
export class SealedHour implements HourBlock {
  private readonly patched = new Map<number, Uint8Array>();

  constructor(
    private readonly ads: Int32Array,
    /** Block i is bytes[starts[i], starts[i + 1]). */
    private readonly starts: Uint32Array,
    private readonly bytes: Uint8Array,
  ) {}

  get byteLength(): number {
    return this.bytes.byteLength + this.ads.byteLength + this.starts.byteLength;
  }

  private indexOf(ad: number): number {
    let lo = 0;
    let hi = this.ads.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const found = this.ads[mid]!;
      if (found === ad) return mid;
      if (found < ad) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  addInto(ad: number, hourStartMinute: number, sums: SeriesSums): void {
    const patch = this.patched.get(ad);
    if (patch !== undefined) return addPackedInto(patch, 0, patch.length, hourStartMinute, sums);
    const i = this.indexOf(ad);
    if (i >= 0) addPackedInto(this.bytes, this.starts[i]!, this.starts[i + 1]!, hourStartMinute, sums);
  }

  change(ad: number, offset: number, counts: Readonly<BucketCounts>, replace: boolean): void {
    const dense = this.denseOf(ad);
    changeCell(dense, offset * COUNTERS, counts, replace);
    this.patched.set(ad, packHour(dense));
  }

  /** The changeable form again, for an hour about to take many changes (a replay through old hours). */
  unseal(): OpenHour {
    const open = new OpenHour();
    this.ads.forEach((ad, i) => {
      const patch = this.patched.get(ad);
      const dense =
        patch !== undefined
          ? unpackHour(patch, 0, patch.length)
          : unpackHour(this.bytes, this.starts[i]!, this.starts[i + 1]!);
      open.setDense(ad, dense);
    });
    for (const [ad, patch] of this.patched)
      if (this.indexOf(ad) < 0) open.setDense(ad, unpackHour(patch, 0, patch.length));
    return open;
  }

  private denseOf(ad: number): Float64Array {
    const patch = this.patched.get(ad);
    if (patch !== undefined) return unpackHour(patch, 0, patch.length);
    const i = this.indexOf(ad);
    if (i < 0) return new Float64Array(DENSE_HOUR_VALUES);
    return unpackHour(this.bytes, this.starts[i]!, this.starts[i + 1]!);
  }
}
