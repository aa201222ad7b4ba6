/**
 * The kernelspec a run's kernel was started from, as recorded with the run: name,
 * display name, language, argv and env. Values of env variables whose names look secret
 * (TOKEN, KEY, SECRET, PASSWORD, any case) are never recorded, nor argv values of
 * `--name=value` options with such names. No DOM, no services.
 */

/** A kernelspec as recorded with a run. */
export interface IKernelspecRecord {
  name: string;
  display_name: string;
  language: string;
  argv: string[];
  /** Secret-looking values replaced by REDACTED. */
  env: Record<string, string>;
}

/** What a kernelspec model offers (KernelSpec.ISpecModel, or a test's plain object). */
export interface IKernelspecLike {
  name: string;
  display_name: string;
  language: string;
  argv?: readonly unknown[];
  env?: Record<string, unknown> | null;
}

/** What stands in for a value that was not recorded. */
export const REDACTED = '<redacted>';

const SECRET_NAME = /TOKEN|KEY|SECRET|PASSWORD/i;

/** Whether an env variable or option name looks like it holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The env of a kernelspec with secret-looking values redacted; non-strings as JSON. */
export function redactEnv(
  env: Record<string, unknown> | null | undefined
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env ?? {})) {
    out[key] = isSecretName(key)
      ? REDACTED
      : typeof value === 'string'
        ? value
        : JSON.stringify(value ?? null);
  }
  return out;
}

/**
 * argv with the values of secret-looking options redacted: `--api-key=…` and `--token …`
 * (the next argument). Everything else is kept as it is.
 */
export function redactArgv(argv: readonly unknown[] | undefined): string[] {
  const out: string[] = [];
  let redactNext = false;
  for (const raw of argv ?? []) {
    const arg = String(raw);
    if (redactNext) {
      out.push(REDACTED);
      redactNext = false;
      continue;
    }
    const m = /^(-{1,2}[^=\s]+)=/.exec(arg);
    if (m && isSecretName(m[1])) {
      out.push(`${m[1]}=${REDACTED}`);
    } else {
      out.push(arg);
      redactNext = /^--?[A-Za-z]/.test(arg) && isSecretName(arg);
    }
  }
  return out;
}

/** The record of a kernelspec (null when there is none). */
export function recordKernelspec(
  spec: IKernelspecLike | null | undefined
): IKernelspecRecord | null {
  if (!spec) {
    return null;
  }
  return {
    name: spec.name,
    display_name: spec.display_name,
    language: spec.language,
    argv: redactArgv(spec.argv),
    env: redactEnv(spec.env)
  };
}

/** Julia's short options and their long names. */
const SHORT: Record<string, string> = {
  t: 'threads',
  p: 'procs',
  J: 'sysimage',
  C: 'cpu-target',
  H: 'home',
  L: 'load',
  O: 'optimize',
  g: 'debug-info',
  q: 'quiet',
  i: 'interactive',
  e: 'eval',
  E: 'print'
};

/** Options that take the next argument as their value when not given with `=`. */
const TAKES_VALUE = new Set([
  'threads',
  'procs',
  'sysimage',
  'cpu-target',
  'home',
  'load',
  'eval',
  'print',
  'machine-file',
  'heap-size-hint',
  'gcthreads'
]);

/**
 * What makes two Julia kernelspecs start the same kind of kernel, as `key → value`:
 * `project` (`--project`, else JULIA_PROJECT), `threads` (`-t`/`--threads`, else
 * JULIA_NUM_THREADS), every other Julia option before the script (`opt:<long name>`),
 * and every other JULIA_* env variable (`env:<name>`). The Julia binary, the kernel
 * script and its arguments ({connection_file}) do not count: they differ by install.
 */
export function kernelspecFeatures(spec: {
  argv?: readonly unknown[];
  env?: Record<string, unknown> | null;
}): Map<string, string> {
  const options = new Map<string, string>();
  const argv = (spec.argv ?? []).map(String);
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      break; // the script (IJulia's kernel.jl): the rest are its arguments
    }
    let name: string;
    let value: string | null = null;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      value = eq < 0 ? null : arg.slice(eq + 1);
    } else {
      name = SHORT[arg[1]] ?? arg[1];
      value = arg.length > 2 ? arg.slice(2).replace(/^=/, '') : null;
    }
    if (value === null && TAKES_VALUE.has(name) && i + 1 < argv.length) {
      value = argv[++i];
    }
    options.set(name, value ?? (name === 'project' ? '@.' : ''));
  }
  const env = redactEnv(spec.env);
  const features = new Map<string, string>();
  const project = options.get('project') ?? env.JULIA_PROJECT;
  if (project !== undefined) {
    features.set('project', project === '' ? '@.' : project);
  }
  const threads = options.get('threads') ?? env.JULIA_NUM_THREADS;
  if (threads !== undefined) {
    features.set('threads', threads);
  }
  for (const [name, value] of options) {
    if (name !== 'project' && name !== 'threads') {
      features.set(`opt:${name}`, value);
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (
      name.toUpperCase().startsWith('JULIA_') &&
      name !== 'JULIA_PROJECT' &&
      name !== 'JULIA_NUM_THREADS'
    ) {
      features.set(`env:${name}`, value);
    }
  }
  return features;
}

/**
 * How closely a kernelspec starts its kernel like the recorded one: +1 for every feature
 * (kernelspecFeatures) with the same value in both, -1 for every one that differs or is
 * in one only. A redacted value matches any value of the same variable.
 */
export function kernelspecAffinity(
  recorded: { argv?: readonly unknown[]; env?: Record<string, unknown> | null },
  candidate: { argv?: readonly unknown[]; env?: Record<string, unknown> | null }
): number {
  const a = kernelspecFeatures(recorded);
  const b = kernelspecFeatures(candidate);
  let score = 0;
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key);
    const y = b.get(key);
    score +=
      x !== undefined &&
      y !== undefined &&
      (x === y || x === REDACTED || y === REDACTED)
        ? 1
        : -1;
  }
  return score;
}
