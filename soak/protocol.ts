// What contender processes tell the orchestrator (over the fork IPC channel). Every time is in ms
// on process.hrtime, the one monotonic clock that every process on the machine shares, so the
// checker can compare records from different processes.

/** What the workers of a contender do: which member of the lock family, and how the store checks it. */
export const WORKLOADS = ['mutex', 'rw', 'semaphore', 'fenced', 'fair'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** How a contender process is configured (passed as JSON in argv[2]). */
export interface ContenderConfig {
  /** Index of this process among the contenders (p0, p1, ...). */
  readonly proc: number;
  readonly lockUrls: readonly string[];
  /** The separate Redis holding the per-key counters (never one of the lock nodes). */
  readonly dataUrl: string;
  readonly workers: number;
  readonly hotKeys: number;
  readonly coldKeys: number;
  /** Share of iterations that pick a hot key (0..1). */
  readonly hotShare: number;
  readonly ttl: number;
  readonly wait: number;
  readonly retryDelay: number;
  readonly retryJitter: number;
  /** `restartGuard` option of the Redlock instance; undefined = the engine's default (on). */
  readonly restartGuard: boolean | undefined;
  /** Work inside a short critical section, ms (uniform in [min, max]). */
  readonly holdMs: readonly [number, number];
  /** Share of critical sections that are long (held with auto-extension, across several ttls). */
  readonly longShare: number;
  /** Work inside a long critical section, ms. */
  readonly longHoldMs: readonly [number, number];
  /** Pause between a worker's iterations, ms. */
  readonly thinkMs: readonly [number, number];
  /** A holder writes only with at least this much validity left (its own check, rule 10). */
  readonly writeMargin: number;
  /** The workloads mixed in this process; each iteration picks one at random (keys apart per workload). */
  readonly workloads: readonly Workload[];
  /** rw: share of iterations that take a read lock (the rest write). */
  readonly readShare: number;
  /** semaphore: the `limit` of every semaphore. */
  readonly limit: number;
  readonly seed: number;
}

/** How a critical section ended for the data it protects. */
export type SectionOutcome =
  /** The counter was written. */
  | 'written'
  /** The holder's own check (signal aborted or too little `remaining`) stopped the write. */
  | 'skipped'
  /** The data store's deadline check refused a write that arrived after the lease (rule 17 gap). */
  | 'refused'
  /** fenced: the store refused the write because it had already seen a larger fence. */
  | 'refused-by-fence'
  /** rw reader: both reads of the counter answered before its lease ended on the store's clock. */
  | 'read'
  /** semaphore: the store counted this holder among the live ones (entry before its deadline). */
  | 'counted';

export interface SectionRecord {
  readonly proc: number;
  /** `p<proc>/w<worker>` */
  readonly owner: string;
  readonly key: string;
  readonly hot: boolean;
  /** Held with auto-extension across several ttls. */
  readonly long: boolean;
  /** After acquire() returned. */
  readonly enteredAt: number;
  /** When the holder decided whether to write. */
  readonly checkedAt: number;
  /** What the holder saw at that moment: `lock.signal.aborted` and `lock.remaining`. */
  readonly abortedAtCheck: boolean;
  readonly remainingAtCheck: number;
  /** After the write answered (or was skipped), before release() was sent. */
  readonly leftAt: number;
  /** The lock's validUntil as it stood when the holder left (extensions move it). */
  readonly validUntil: number;
  readonly outcome: SectionOutcome;
  readonly workload: Workload;
  /** 'read' for an rw reader; every other lock is exclusive or a permit ('write'). */
  readonly mode: 'read' | 'write';
  /** fenced: the lock's fence. */
  readonly fence?: number;
  /** The counter value this section wrote (fenced and mutex writers): orders the store's writes. */
  readonly wroteValue?: number;
  /** fenced, refused: the largest fence the store had seen. */
  readonly highestFence?: number;
  /** rw reader: the two reads of the counter (both before the deadline) differed. */
  readonly readChanged?: boolean;
  /** semaphore: most live holders the store counted at this holder's entry or check (itself included). */
  readonly storeHolders?: number;
}

/** 'ok', or the error's `code` (LOCK_BUSY, QUORUM_UNAVAILABLE, ...), or 'OTHER' for a codeless error. */
export type AcquireResult = 'ok' | string;

export interface AcquireRecord {
  readonly proc: number;
  readonly key: string;
  readonly hot: boolean;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly result: AcquireResult;
  /** The error message of a failed acquire, kept only for the unusual codes. */
  readonly message?: string;
  readonly workload?: Workload;
  readonly mode?: 'read' | 'write';
}

/** A held lock's signal aborted (it was lost). */
export interface LossRecord {
  readonly proc: number;
  readonly key: string;
  /** When the signal aborted. */
  readonly at: number;
  /** The lock's validUntil at that moment. */
  readonly validUntil: number;
  readonly reason: string;
  /**
   * A stretch (machine ms) in which the process's event loop did not turn, across the end of
   * validity, if there was one: a blocked loop (GC, a starved CPU) runs the expiry warning's
   * timer late, as a frozen process would.
   */
  readonly loopBlocked?: { readonly from: number; readonly to: number };
}

/** Something that must never happen in a contender: each one fails the soak. */
export interface ProblemRecord {
  readonly proc: number;
  readonly kind: 'unhandledRejection' | 'uncaughtException' | 'errorEvent' | 'workerCrash';
  readonly at: number;
  readonly message: string;
}

export interface InFlightAcquire {
  readonly key: string;
  readonly startedAt: number;
}

export interface ContenderSummary {
  /** 'lockLost' events the Redlock instance emitted (should equal the aborted signals). */
  readonly lockLostEvents: number;
  readonly releaseIncompleteEvents: number;
  /** Event-loop delay of this process, ms (how late its timers could fire). */
  readonly loopDelayP99: number;
  readonly loopDelayMax: number;
}

export type ContenderMessage =
  | {
      readonly type: 'records';
      readonly sections: SectionRecord[];
      readonly acquires: AcquireRecord[];
      readonly losses: LossRecord[];
      readonly problems: ProblemRecord[];
    }
  /** How many auto-extended (long) locks the process holds now, and how many of them are fenced. */
  | { readonly type: 'holding'; readonly long: number; readonly longFenced: number }
  /** Sent while stopping: acquire calls that have not returned yet. */
  | { readonly type: 'inflight'; readonly acquires: InFlightAcquire[] }
  | { readonly type: 'done'; readonly summary: ContenderSummary };

export type OrchestratorMessage = { readonly type: 'stop' };
