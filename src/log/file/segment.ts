/**
 * A segment takes appends while active; once sealed it never changes again,
 * which is what lets recovery trust its size and skip scanning it.
 */
export type SegmentState = 'active' | 'sealed';

const SEGMENT_TRANSITIONS: Readonly<Record<SegmentState, readonly SegmentState[]>> = {
  active: ['sealed'],
  sealed: [],
};

export interface Segment {
  /** Offset of its first byte in the logical log; also its file name. */
  readonly base: number;
  readonly path: string;
  /** Durable bytes: grows only after an fdatasync covering them. */
  size: number;
  state: SegmentState;
}

export function setSegmentState(segment: Segment, to: SegmentState): void {
  if (!SEGMENT_TRANSITIONS[segment.state].includes(to)) {
    throw new Error(`segment ${segment.path} cannot go from "${segment.state}" to "${to}"`);
  }
  segment.state = to;
}
