// Node built-ins that only some commands need (child_process, https, …), loaded on first use
// with process.getBuiltinModule (Node ≥ 20.16): the CLI's startup snapshot (docs/cli.md) has
// no dynamic import(), and this works the same in the modules, the bundle and the snapshot.

export function builtin<T>(name: `node:${string}`): T {
  return process.getBuiltinModule(name) as T;
}
