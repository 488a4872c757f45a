import type { Logger } from '../services/context.ts';

const ORDER = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 } as const;

/** JSON lines on stderr, so stdout stays free for what a CLI or test harness reads. */
export function createLogger(level: keyof typeof ORDER): Logger {
  const at = ORDER[level];
  const line = (lvl: string, msg: string, data?: Record<string, unknown>) =>
    console.error(JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...data }));
  return {
    error: (m, d) => at >= 1 && line('error', m, d),
    warn: (m, d) => at >= 2 && line('warn', m, d),
    info: (m, d) => at >= 3 && line('info', m, d),
    debug: (m, d) => at >= 4 && line('debug', m, d),
  };
}
