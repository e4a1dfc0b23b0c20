// A fresh PostgreSQL database per test, as the Go tests' internal/pgtest
// makes them: on the server GLAM_TEST_POSTGRES names (a URL DSN), else the
// local one, created with psql and dropped, with any connection still open
// to it, when the test ends.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const envDSN = 'GLAM_TEST_POSTGRES';
export const baseDSN = process.env[envDSN] || 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable';

// withDatabase is dsn with its database replaced by name.
export function withDatabase(dsn, name) {
  const u = new URL(dsn);
  u.pathname = `/${name}`;
  return u.href;
}

function redact(dsn) {
  const u = new URL(dsn);
  if (u.password) u.password = 'xxxxx';
  return u.href;
}

async function psql(sql) {
  try {
    await run('psql', [baseDSN, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { timeout: 30000 });
  } catch (err) {
    const why = err.code === 'ENOENT' ? 'psql is not installed (apt-get install -y postgresql-client)' : (err.stderr || err.message).trim().split('\n')[0];
    throw new Error(`PostgreSQL at ${redact(baseDSN)} (set ${envDSN} to point elsewhere): ${why}`);
  }
}

// query runs sql on database dsn and returns its rows, each an array of
// text fields (NULL reads as '').
export async function query(dsn, sql) {
  try {
    const { stdout } = await run('psql', [dsn, '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { timeout: 30000 });
    return stdout.split('\n').filter(Boolean).map((line) => line.split('\t'));
  } catch (err) {
    throw new Error(`query on ${redact(dsn)} failed: ${(err.stderr || err.message).trim()}\n${sql}`);
  }
}

// postgresProblem says why no database can be made, or '' when one can.
export async function postgresProblem() {
  try {
    await psql('SELECT 1');
    return '';
  } catch (err) {
    return err.message;
  }
}

// newDatabase creates an empty database and drops it when t ends. Outside
// CI an unreachable server skips the test; under CI it fails it.
export async function newDatabase(t) {
  const problem = await postgresProblem();
  if (problem) {
    if (!process.env.CI) {
      t.skip(problem);
      return null;
    }
    throw new Error(problem);
  }
  const name = `glam_e2e_${randomBytes(6).toString('hex')}`;
  await psql(`CREATE DATABASE ${name}`);
  t.after(() => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  return { name, dsn: withDatabase(baseDSN, name) };
}
