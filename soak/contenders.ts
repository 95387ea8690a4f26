import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { guardChild } from '../test/support/orphan-guard.js';
import { machineNow } from '../test/support/overlap-checker.js';
import type {
  AcquireRecord,
  ContenderConfig,
  ContenderMessage,
  ContenderSummary,
  InFlightAcquire,
  LossRecord,
  OrchestratorMessage,
  ProblemRecord,
  SectionRecord,
} from './protocol.js';

const CONTENDER = fileURLToPath(new URL('./contender.ts', import.meta.url));
const REGISTER = fileURLToPath(new URL('../tools/ts-register.mjs', import.meta.url));

/** Everything the contenders reported, merged. */
export interface Collected {
  readonly sections: SectionRecord[];
  readonly acquires: AcquireRecord[];
  readonly losses: LossRecord[];
  readonly problems: ProblemRecord[];
}

export interface ContenderExit {
  readonly proc: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** It exited on its own after 'stop' with a summary. */
  readonly clean: boolean;
  readonly summary: ContenderSummary | undefined;
  /** Acquires still open when it had to be killed (a hang). */
  readonly stuck: readonly InFlightAcquire[];
}

class Contender {
  summary: ContenderSummary | undefined;
  inFlight: InFlightAcquire[] = [];
  longHeld = 0;
  longFencedHeld = 0;
  paused = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly proc: number,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }
}

/**
 * The contender processes of one phase: separate OS processes (forked with the TypeScript loader,
 * so no build is needed), each streaming its records over IPC into one Collected.
 */
export class ContenderPool {
  readonly collected: Collected = { sections: [], acquires: [], losses: [], problems: [] };
  private readonly contenders: Contender[];
  private stopping = false;

  constructor(configs: readonly ContenderConfig[]) {
    this.contenders = configs.map((config) => {
      const child = fork(CONTENDER, [JSON.stringify(config)], {
        execArgv: ['--import', REGISTER],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      guardChild(child); // dies with the orchestrator, whatever ends it
      const contender = new Contender(config.proc, child);
      child.on('message', (message: ContenderMessage) => this.receive(contender, message));
      child.once('exit', (code, signal) => {
        if (this.stopping) return;
        this.collected.problems.push({ proc: config.proc, kind: 'workerCrash', at: machineNow(), message: `contender exited early (code ${code}, signal ${signal})` });
      });
      return contender;
    });
  }

  get size(): number {
    return this.contenders.length;
  }

  pid(proc: number): number | undefined {
    return this.contenders[proc]?.child.pid;
  }

  /** Processes that said they hold an auto-extended lock right now (with `fenced`, a fenced one). */
  holdingLong(fenced = false): number[] {
    return this.contenders.filter((c) => c.running && (fenced ? c.longFencedHeld : c.longHeld) > 0).map((c) => c.proc);
  }

  /** SIGSTOP: the whole process freezes, timers and all, as in a long GC pause or swap storm. */
  pause(proc: number): void {
    const contender = this.contenders[proc];
    contender.signal('SIGSTOP');
    contender.paused = true;
  }

  resume(proc: number): void {
    const contender = this.contenders[proc];
    if (!contender.paused) return;
    contender.paused = false;
    contender.signal('SIGCONT');
  }

  /**
   * Ask every contender to finish its current iteration, quit and report; one that has not exited
   * after `timeoutMs` is killed and its open acquires are returned as stuck (a hang).
   */
  async stop(timeoutMs: number): Promise<ContenderExit[]> {
    this.stopping = true;
    for (const c of this.contenders) this.resume(c.proc);
    const message: OrchestratorMessage = { type: 'stop' };
    for (const c of this.contenders) if (c.running && c.child.connected) c.child.send(message);
    return Promise.all(
      this.contenders.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
        const first = await Promise.race([c.exited, timedOut]);
        clearTimeout(timer);
        const stuck = first === 'timeout' ? c.inFlight : [];
        if (first === 'timeout') c.signal('SIGKILL');
        const { code, signal } = await c.exited;
        return { proc: c.proc, code, signal, clean: code === 0 && c.summary !== undefined, summary: c.summary, stuck };
      }),
    );
  }

  /** Ctrl-C or a failure of the orchestrator: no reports, just make sure nothing survives. */
  async kill(): Promise<void> {
    this.stopping = true;
    for (const c of this.contenders) c.signal('SIGKILL');
    await Promise.all(this.contenders.map((c) => c.exited));
  }

  private receive(contender: Contender, message: ContenderMessage): void {
    switch (message.type) {
      case 'records':
        this.collected.sections.push(...message.sections);
        this.collected.acquires.push(...message.acquires);
        this.collected.losses.push(...message.losses);
        this.collected.problems.push(...message.problems);
        break;
      case 'inflight':
        contender.inFlight = message.acquires;
        break;
      case 'holding':
        contender.longHeld = message.long;
        contender.longFencedHeld = message.longFenced;
        break;
      case 'done':
        contender.summary = message.summary;
        break;
    }
  }
}
