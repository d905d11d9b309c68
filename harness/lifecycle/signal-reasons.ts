/** Why the harness sent a signal, as data: verdicts and checks key on this, never on `why`'s words. */
export const SIGNAL_REASONS = ['freeze', 'thaw', 'shutdown', 'runtime-share-over', 'no-extensions', 'not-subscribed', 'deadline'] as const
export type SignalReason = (typeof SIGNAL_REASONS)[number]
