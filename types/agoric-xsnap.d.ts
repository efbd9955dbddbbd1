// Minimal typing of the @agoric/xsnap API this project uses (the package ships JS with JSDoc only).
declare module '@agoric/xsnap' {
  export interface MeterUsage {
    meterType: string;
    allocate: number | null;
    compute: number | null;
    currentHeapCount: number | null;
    timestamps: number[] | null;
  }
  export interface RunResult<T> {
    reply: T;
    meterUsage: MeterUsage;
  }
  export interface XSnapWorker {
    evaluate(code: string): Promise<RunResult<Uint8Array>>;
    issueCommand(message: Uint8Array): Promise<RunResult<Uint8Array>>;
    issueStringCommand(message: string): Promise<RunResult<string>>;
    close(): Promise<void>;
    terminate(): Promise<void>;
  }
  export function xsnap(options: {
    os: string;
    spawn: typeof import('node:child_process').spawn;
    fs: unknown;
    name?: string;
    stdout?: 'ignore' | 'inherit' | 'pipe';
    stderr?: 'ignore' | 'inherit' | 'pipe';
    meteringLimit?: number;
    handleCommand?: (request: Uint8Array) => Promise<Uint8Array>;
  }): Promise<XSnapWorker>;
}
