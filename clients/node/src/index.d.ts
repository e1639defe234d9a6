export { withMirra, MirraOptions } from './vitest.js';

export class MirraError extends Error {
  status?: number;
  type?: string;
  code?: string;
}

export class Control {
  constructor(url: string, token: string);
  readonly url: string;
  readonly token: string;
  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  answers(): Promise<boolean>;
}

export function findServer(opts?: { autostart?: boolean }): Promise<Control>;
export function startServer(): Promise<Control>;
export function parseTimeout(value: number | string | undefined | null): number | undefined | null;
export function parseSeeds(seeds?: Record<string, string> | string | string[]): Record<string, string>;
export function readSeedFiles(files?: Record<string, string | object>): Record<string, object>;

export interface ResetOptions {
  mirrors?: string[];
  /** `'resend:empty'` or `{ resend: 'empty' }`. */
  seed?: Record<string, string> | string | string[];
}

export class Session {
  static create(control: Control, opts?: {
    mirrors?: string[]; seeds?: Record<string, string> | string | string[];
    seedFiles?: Record<string, string | object>; timeout?: number | string;
    persistent?: boolean; name?: string; rateLimit?: number;
  }): Promise<Session>;
  static attach(control: Control, idOrName: string): Promise<Session>;
  readonly id: string;
  readonly data: Record<string, any>;
  readonly mirrors: string[];
  /** The variables `mirra env` prints for this session. */
  env(): Record<string, string>;
  url(mirror: string): string;
  credentials(mirror: string): Record<string, string>;
  reset(opts?: ResetOptions & { seeds?: Record<string, string>; seedFiles?: Record<string, string | object> }): Promise<any>;
  resetToStart(opts?: { mirrors?: string[] }): Promise<any>;
  snapshot(opts?: { keep?: boolean }): Promise<string>;
  restore(snapshotId: string): Promise<any>;
  end(): Promise<any>;
  /** `new Stripe(s.stripe.apiKey, s.stripe.options)`: the server's root, routed by the key. */
  readonly stripe: { apiKey: string; options: { host: string; port: number; protocol: 'http' | 'https' } };
  /** `new Resend(s.resend.apiKey, { baseUrl: s.resend.baseUrl })`. */
  readonly resend: { apiKey: string; baseUrl: string };
  /** `s.twilio.apply(twilio(s.twilio.accountSid, s.twilio.authToken))`. */
  readonly twilio: { accountSid: string; authToken: string; baseUrl: string; apply<C>(client: C): C };
}

/** The worker's session (inside tests run with withMirra). */
export function mirraSession(): Session;
/** Resets the worker's session in one request. */
export function resetMirraMirrors(opts?: ResetOptions): Promise<any>;
export function snapshot(opts?: { keep?: boolean }): Promise<string>;
export function restore(id: string): Promise<any>;
