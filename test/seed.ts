// The seed of a seeded test, from its environment variable (no tests here: imported only):
// unset, the test's fixed default (so CI runs are repeatable); "random", undefined (the
// property framework draws one and prints it); otherwise the number given, to replay.

export function envSeed(variable: string, fixed: number): number | undefined {
  const env = process.env[variable];
  if (env === undefined) return fixed;
  return env === "random" ? undefined : Number(env);
}
