/**
 * A model produces the output of a run in segments. Each segment is one DBOS step, so a resumed run
 * restarts at the first segment that did not complete. A model must be deterministic per segment for
 * a resumed run to equal an uninterrupted one (the builtin model is; a remote model streams the whole
 * answer in a single segment and is re-asked on resume).
 */
export interface TokenModel {
  readonly name: string;
  generateSegment(request: SegmentRequest): Promise<SegmentResult>;
}

export interface SegmentRequest {
  input: string;
  /** 0-based segment number. */
  segment: number;
  /** Tokens produced by the completed segments before this one. */
  tokensSoFar: number;
  /** Called for every token, in order, as it is produced. */
  onToken: (text: string) => Promise<void>;
}

export interface SegmentResult {
  tokens: string[];
  /** True when this was the last segment of the run. */
  done: boolean;
}
