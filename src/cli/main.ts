#!/usr/bin/env bun
/**
 * `dstp`: the command line for app developers — keys, subtree creation, transactions, reads and
 * verification. JSON on stdout; one-line errors on stderr; exit 1 for failures, 2 for usage.
 */
import { DstpHttpError, DstpTimeoutError } from '../client/http.ts';
import { VerificationError } from '../client/verify.ts';
import { DstpError } from '../core/errors.ts';
import { parseOptions, UsageError } from './args.ts';
import { COMMANDS, DEFAULT_NODE, type Io } from './commands.ts';

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: dstp <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    `common options: --node URL (env DSTP_NODE_URL, default ${DEFAULT_NODE}), --admin-token T (env DSTP_ADMIN_TOKEN), --help`,
    'run `dstp <command> --help` for its options.',
  ].join('\n');
}

/** Runs one command; returns the exit code. All output goes through `io`, so tests can drive it. */
export async function main(argv: string[], io: Io & { stderr(line: string): void; stdout(text: string): void }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(helpText());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout(`${helpText()}\n`);
    return 0;
  }
  // Two-word commands (`program push`) are keyed by both words.
  const twoWords = rest[0] !== undefined ? `${name} ${rest[0]}` : undefined;
  const command = (twoWords !== undefined ? COMMANDS[twoWords] : undefined) ?? COMMANDS[name];
  const args = twoWords !== undefined && COMMANDS[twoWords] ? rest.slice(1) : rest;
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`);
    const values = parseOptions(args, command.options, command.positional);
    if (values.help === true) {
      io.stdout(`usage: ${command.usage}\n\n${command.summary}\n`);
      return 0;
    }
    return await command.run(values, io);
  } catch (e) {
    io.stderr(`dstp${command ? ` ${command === COMMANDS[name] ? name : twoWords}` : ''}: ${describe(e)}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

/** One line that names what failed and why, with the stable code where there is one. */
export function describe(e: unknown): string {
  let msg: string;
  if (e instanceof UsageError) msg = `${e.message} (see dstp --help)`;
  else if (e instanceof VerificationError) msg = `verification failed at link "${e.link}": ${e.message.replace(/^[a-z]+: /, '')}`;
  else if (e instanceof DstpHttpError) {
    const extra = e.problem.expected !== undefined ? ` (expected: ${JSON.stringify(e.problem.expected)})` : '';
    msg = e.status === 0 ? `cannot reach ${e.url}: ${e.detail}` : `${e.status} ${e.code}: ${e.detail}${extra}`;
  } else if (e instanceof DstpTimeoutError) msg = e.message;
  else if (e instanceof DstpError) msg = `${e.code}: ${e.message}`;
  else msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\n\s*/g, ' ');
}

const isMain = (import.meta as { main?: boolean }).main === true;
if (isMain) {
  const code = await main(process.argv.slice(2), {
    out: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    note: (line) => process.stderr.write(`${line}\n`),
    stdout: (text) => process.stdout.write(text),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
  });
  process.exitCode = code;
}
