import { VERSION } from '../api/version.ts';
import { startScheduler } from '../leader/scheduler.ts';
import type { NodeContext } from '../services/context.ts';
import { WebhookDispatcher, type DispatcherDeps } from './dispatcher.ts';
import { webhookSettings } from './settings.ts';
import { createTargetGuard } from './target-guard.ts';

export const WEBHOOK_USER_AGENT = `dstp-webhooks/${VERSION}`;

export function dispatcherDeps(ctx: NodeContext): DispatcherDeps {
  const settings = webhookSettings(ctx.config);
  return {
    db: ctx.db,
    settings,
    guard: createTargetGuard({ allowPrivate: settings.allowPrivate }),
    log: ctx.log,
    now: ctx.now,
    userAgent: WEBHOOK_USER_AGENT,
  };
}

export interface WebhookWorker {
  /** Look for work soon (after a commit that wrote events, a retry request, …). */
  kick(): void;
  /** Stops cycling, aborts sends in flight and gives their claims back. */
  stop(): Promise<void>;
}

/**
 * The in-process delivery loop of a long-lived node: a cycle every `intervalMs` (retries come due,
 * other processes commit events), at once after `kick()`, and again whenever a send finishes, so
 * a busy endpoint is fed as fast as it answers. Never two cycles at once in a process.
 */
export function startWebhookWorker(ctx: NodeContext): WebhookWorker {
  const deps = dispatcherDeps(ctx);
  const dispatcher = new WebhookDispatcher(deps);
  const scheduler = startScheduler({
    intervalMs: deps.settings.intervalMs,
    debounceMs: 1,
    pass: async () => {
      const r = await dispatcher.cycle();
      if (r.more) scheduler.kick();
    },
    onError: (err) => ctx.log.error('webhook cycle failed', { error: String(err) }),
  });
  dispatcher.onSettled = () => scheduler.kick();
  return {
    kick: () => scheduler.kick(),
    async stop() {
      await scheduler.stop();
      await dispatcher.close();
    },
  };
}

/**
 * One bounded drain for hosts without a long-lived process (a Workers cron or `waitUntil` after a
 * commit, or `POST /v1/webhooks/dispatch`): cycles until nothing is due or the budget is spent,
 * waiting for every send it started.
 */
export async function runWebhookPass(ctx: NodeContext, budgetMs = 20_000) {
  const d = new WebhookDispatcher(dispatcherDeps(ctx));
  try {
    return await d.drain(budgetMs);
  } finally {
    await d.close();
  }
}
