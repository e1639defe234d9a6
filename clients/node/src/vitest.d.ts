import type { UserConfig } from 'vitest/config';

export interface MirraOptions {
  /** Mirrors of each worker's session (default `['stripe']`). */
  mirrors?: Array<'stripe' | 'resend' | 'twilio' | string>;
  /** `{ stripe: 'default' }` or `'resend:empty'` / a list of `mirror:name`. */
  seeds?: Record<string, string> | string | string[];
  /** `{ twilio: 'seeds/twilio.json' }` (read at start) or parsed seed documents. */
  seedFiles?: Record<string, string | object>;
  /** Reset every mirror to the session's seeds before each test. */
  resetBetweenTests?: boolean;
  /** Ephemeral sessions' timeout: seconds or `'30m'`, `'2h'` (default `'30m'`). */
  timeout?: number | string;
  /** Persistent sessions named `${name}-w${slot}`, kept after the run. */
  persistent?: boolean;
  name?: string;
}

/** A Vitest config with Mirra's globalSetup, setup file and options added. */
export function withMirra<T extends UserConfig>(options?: MirraOptions, config?: T): T;
