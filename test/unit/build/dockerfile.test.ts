import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyMetadata, declareArgs, evaluateGlobalArgs, expandCopy, expandFrom, expandWord, expandWords, exposedPorts, heredocFiles,
  newStageState, parseDockerfile, parseDuration, parseLines, parseTrigger, runCommand, withPlatformArgs,
  type CopyInstruction, type RunInstruction, type StageState,
} from '../../../src/build/dockerfile/index.js';
import { isBerthError } from '../../../src/errors.js';

const vars = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));

function throwsMsg(fn: () => unknown, msg: string | RegExp): void {
  assert.throws(fn, (e: Error) => {
    if (typeof msg === 'string') assert.equal(e.message, msg);
    else assert.match(e.message, msg);
    return true;
  });
}

test('directives at the top only; escape and syntax', () => {
  const p = parseLines('# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n  b\n');
  assert.equal(p.directives.syntax, 'docker/dockerfile:1');
  assert.equal(p.directives.escape, '`');
  assert.equal(p.nodes[1]!.args, 'a   b');
  // After a comment, a blank line or an instruction, `# escape=` is a comment.
  const q = parseLines('# a comment\n# escape=`\nFROM x\nRUN a \\\n b\n');
  assert.equal(q.directives.escape, '\\');
  assert.equal(q.nodes[1]!.args, 'a  b');
  const r = parseLines('\n# escape=`\nFROM x\n');
  assert.equal(r.directives.escape, '\\');
  // Unknown directives are kept, case-insensitive names.
  assert.deepEqual(parseLines('# Check=skip=all\nFROM x').directives.other, { check: 'skip=all' });
  throwsMsg(() => parseLines('# escape=\\\n# escape=`\nFROM x'), 'Dockerfile:2: only one escape parser directive can be used');
  throwsMsg(() => parseLines('# escape=x\nFROM x'), /Dockerfile:1: invalid escape token 'x'/);
});

test('continuations, comments inside them, blank lines, keyword case', () => {
  const p = parseLines('from busybox\n\n# comment\nRUN echo hello \\\n# inner comment\n\n    world\nrun   x  \n');
  assert.deepEqual(p.nodes.map((n) => [n.keyword, n.args, n.line]), [['FROM', 'busybox', 1], ['RUN', 'echo hello     world', 4], ['RUN', 'x', 8]]);
  assert.equal(p.warnings.length, 1);
  // Trailing blanks after the escape still continue; a final escape at EOF ends the line.
  assert.equal(parseLines('RUN a \\  \n b').nodes[0]!.args, 'a  b');
  assert.equal(parseLines('RUN a \\').nodes[0]!.args, 'a');
  // A # in the middle of a line is not a comment.
  assert.equal(parseLines('RUN echo # not a comment').nodes[0]!.args, 'echo # not a comment');
  // CRLF and a BOM.
  assert.equal(parseLines('\uFEFFFROM x\r\nRUN y\r\n').nodes[1]!.args, 'y');
});

test('heredocs: RUN and COPY, quoted, <<-, several', () => {
  const df = parseDockerfile([
    'FROM busybox',
    'RUN <<EOF',
    'echo one',
    '  echo two',
    'EOF',
    'COPY <<"FILE" /app/conf',
    'x=$HOME',
    'FILE',
    'RUN <<-A cat - && cat /dev/null <<B',
    '\t\tindented',
    '\tA',
    'b body',
    'B',
    'CMD ["sh"]',
  ].join('\n'));
  const [run1, copy, run2, cmd] = df.stages[0]!.instructions as [RunInstruction, CopyInstruction, RunInstruction, unknown];
  assert.deepEqual(run1.heredocs, [{ name: 'EOF', content: 'echo one\n  echo two\n', expand: true, chomp: false }]);
  assert.equal(copy.kind, 'COPY');
  assert.deepEqual(copy.sources, ['<<"FILE"']);
  assert.equal(copy.dest, '/app/conf');
  assert.deepEqual(copy.heredocs, [{ name: 'FILE', content: 'x=$HOME\n', expand: false, chomp: false }]);
  assert.deepEqual(run2.heredocs.map((h) => h.content), ['indented\n', 'b body\n']);
  assert.equal((cmd as { kind: string }).kind, 'CMD');
  // The script of a lone heredoc is its body; otherwise the shell gets line + bodies.
  const s = newStageState({}, new Map(), new Map());
  assert.deepEqual(runCommand(s, run1).argv, ['/bin/sh', '-c', 'echo one\n  echo two\n']);
  assert.deepEqual(runCommand(s, run2).argv, ['/bin/sh', '-c', 'cat - && cat /dev/null <<B\nindented\nA\nb body\nB\n'.replace('cat - && cat /dev/null <<B', '<<-A cat - && cat /dev/null <<B')]);
  throwsMsg(() => parseDockerfile('FROM x\nRUN <<EOF\nno end\n'), 'Dockerfile:2: unterminated heredoc EOF');
  // Exec form has no heredocs.
  assert.deepEqual((parseDockerfile('FROM x\nRUN ["cat", "<<EOF"]\n').stages[0]!.instructions[0] as RunInstruction).heredocs, []);
});

test('COPY heredoc bodies are expanded unless quoted', () => {
  const df = parseDockerfile('FROM x\nENV NAME=world\nCOPY <<EOF <<\'RAW\' /dst/\nhello $NAME ${NAME}\nEOF\n$NAME\nRAW\n');
  const s = newStageState({}, new Map(), new Map());
  applyMetadata(s, df.stages[0]!.instructions[0]!);
  const files = heredocFiles(s, df.stages[0]!.instructions[1] as CopyInstruction);
  assert.equal(files.get('EOF'), 'hello world world\n');
  assert.equal(files.get('RAW'), '$NAME\n');
});

test('errors name the file and line', () => {
  throwsMsg(() => parseDockerfile('FROM busybox\n\nRUNN echo'), 'Dockerfile:3: unknown instruction: RUNN');
  throwsMsg(() => parseDockerfile('FROM a\nRUN a \\\n b\nFOO x', 'df.txt'), 'df.txt:4: unknown instruction: FOO');
  throwsMsg(() => parseDockerfile('RUN echo'), 'Dockerfile:1: no build stage in current context');
  throwsMsg(() => parseDockerfile('# just a comment\n'), 'Dockerfile:1: the Dockerfile (Dockerfile) cannot be empty');
  throwsMsg(() => parseDockerfile('FROM a b'), 'Dockerfile:1: FROM requires either one or three arguments');
  throwsMsg(() => parseDockerfile('FROM a AS 1x'), /invalid name for build stage: "1x"/);
  throwsMsg(() => parseDockerfile('FROM a AS x\nFROM b as X'), 'Dockerfile:2: duplicate stage name "x"');
  throwsMsg(() => parseDockerfile('FROM a\nCOPY only'), /Dockerfile:2: COPY requires at least two arguments/);
  throwsMsg(() => parseDockerfile('FROM a\nCOPY --frm=x a b'), 'Dockerfile:2: COPY: unknown flag: --frm');
  throwsMsg(() => parseDockerfile('FROM a\nSHELL /bin/bash -c'), 'Dockerfile:2: SHELL requires the arguments to be in JSON form');
  throwsMsg(() => parseDockerfile('FROM a\nHEALTHCHECK RUN x'), 'Dockerfile:2: Unknown type "RUN" in HEALTHCHECK (try CMD)');
  throwsMsg(() => parseDockerfile('FROM a\nHEALTHCHECK NONE x'), 'Dockerfile:2: HEALTHCHECK NONE takes no arguments');
  throwsMsg(() => parseDockerfile('FROM a\nONBUILD ONBUILD RUN x'), /Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed/);
  throwsMsg(() => parseDockerfile('FROM a\nONBUILD FROM x'), "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
  throwsMsg(() => parseDockerfile('FROM a\nENV'), /Dockerfile:2: ENV requires at least one argument/);
  throwsMsg(() => parseDockerfile('FROM a\nENV a=b c'), /Dockerfile:2: Syntax error - can't find = in "c"/);
  throwsMsg(() => parseDockerfile('FROM a\nUSER a b'), 'Dockerfile:2: USER requires exactly one argument');
  throwsMsg(() => parseDockerfile('FROM a\nENV A="open'), /Dockerfile:2: unexpected end of statement while looking for matching double-quote/);
  assert.ok(isBerthError((() => { try { parseDockerfile('X'); } catch (e) { return e; } })(), 'InvalidParameter'));
});

test('FROM: ARG before FROM, --platform, stage names', () => {
  const df = parseDockerfile('ARG VERSION=1.36\nARG REG\nFROM --platform=$BUILDPLATFORM ${REG:-docker.io}/busybox:$VERSION AS Build\nFROM scratch\n');
  assert.equal(df.globalArgs.length, 2);
  assert.equal(df.stages[0]!.name, 'build');
  assert.equal(df.stages[1]!.name, undefined);
  const g = evaluateGlobalArgs(df.globalArgs, new Map());
  assert.deepEqual(expandFrom(df.stages[0]!.from, g), { image: 'docker.io/busybox:1.36', platform: '' });
  const g2 = evaluateGlobalArgs(df.globalArgs, vars({ VERSION: '1.35', REG: 'r:5000' }));
  assert.equal(expandFrom(df.stages[0]!.from, g2).image, 'r:5000/busybox:1.35');
});

test('platform ARGs: global, seen by FROM and by a stage that declares them; declared values win', () => {
  const df = parseDockerfile('ARG TARGETOS=plan9\nARG BUILDARCH\nFROM --platform=$BUILDPLATFORM busybox:$TARGETARCH\nARG TARGETPLATFORM\nARG BUILDVARIANT\nRUN echo\n');
  const target = { os: 'linux', architecture: 'arm64', variant: 'v8' };
  const g = withPlatformArgs(evaluateGlobalArgs(df.globalArgs, new Map()), target, { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(expandFrom(df.stages[0]!.from, g), { image: 'busybox:arm64', platform: 'linux/amd64' });
  assert.equal(g.get('TARGETOS'), 'plan9'); // declared with a default: the Dockerfile's value
  assert.equal(g.get('BUILDARCH'), 'amd64'); // declared without one: the automatic value stays
  const s = newStageState({}, new Map(), g);
  const [argT, argV, run] = df.stages[0]!.instructions as [never, never, RunInstruction];
  applyMetadata(s, argT);
  applyMetadata(s, argV);
  assert.deepEqual(runCommand(s, run).env.sort(), ['BUILDVARIANT=', 'TARGETPLATFORM=linux/arm64/v8']);
  // --build-arg still wins
  const g2 = withPlatformArgs(evaluateGlobalArgs(parseDockerfile('ARG TARGETARCH\nFROM x\n').globalArgs, vars({ TARGETARCH: 'riscv64' })), target, target);
  assert.equal(g2.get('TARGETARCH'), 'riscv64');
});

test('ARG scoping: global ARG needs re-declaring; --build-arg wins; ENV wins over ARG', () => {
  const df = parseDockerfile('ARG V=global\nFROM x\nRUN echo $V\nARG V\nARG W=w-$V\nENV W=env\nRUN echo $W\n');
  const g = evaluateGlobalArgs(df.globalArgs, new Map());
  const s = newStageState({ Env: ['PATH=/bin'] }, new Map(), g);
  const [run1, argV, argW, env, run2] = df.stages[0]!.instructions as [RunInstruction, never, never, never, RunInstruction];
  assert.deepEqual(runCommand(s, run1).env, ['PATH=/bin']);
  applyMetadata(s, argV);
  applyMetadata(s, argW);
  assert.equal(s.args.get('V'), 'global');
  assert.equal(s.args.get('W'), 'w-global');
  const r = runCommand(s, run1);
  assert.deepEqual(r.env, ['PATH=/bin', 'V=global', 'W=w-global']);
  assert.equal(r.createdBy, '|2 V=global W=w-global /bin/sh -c echo $V');
  applyMetadata(s, env);
  assert.equal(runCommand(s, run2).createdBy, '|1 V=global /bin/sh -c echo $W');
  const s2 = newStageState({}, vars({ W: 'cli' }), g);
  declareArgs(s2, argW);
  assert.equal(s2.args.get('W'), 'cli');
  assert.ok(s2.usedBuildArgs.has('W'));
});

test('variable expansion as Docker documents it', () => {
  const v = vars({ foo: 'hello', empty: '', sp: 'a b' });
  assert.equal(expandWord('$foo', v), 'hello');
  assert.equal(expandWord('${foo}_bar', v), 'hello_bar');
  assert.equal(expandWord('${missing:-word}', v), 'word');
  assert.equal(expandWord('${empty:-word}', v), 'word');
  assert.equal(expandWord('${empty-word}', v), '');
  assert.equal(expandWord('${foo:+alt}', v), 'alt');
  assert.equal(expandWord('${missing:+alt}', v), '');
  assert.equal(expandWord('${empty:+alt}', v), '');
  assert.equal(expandWord('${empty+alt}', v), 'alt');
  assert.equal(expandWord('${missing:-$foo}', v), 'hello');
  assert.equal(expandWord('\\$foo', v), '$foo');
  assert.equal(expandWord("'$foo'", v), '$foo');
  assert.equal(expandWord('"$foo world"', v), 'hello world');
  assert.equal(expandWord('"\\$foo"', v), '$foo');
  assert.equal(expandWord('$missing', v), '');
  assert.equal(expandWord('a$', v), 'a$');
  assert.equal(expandWord('`$foo', v, { escape: '`' }), '$foo');
  assert.equal(expandWord('c:\\path', v, { escape: '`' }), 'c:\\path');
  assert.deepEqual(expandWords('$sp "x y" z', v), ['a', 'b', 'x y', 'z']);
  throwsMsg(() => expandWord('${missing:?must be set}', v), /missing: must be set/);
  throwsMsg(() => expandWord('${foo', v), /missing '}'/);
});

test('ENV forms and expansion on one line', () => {
  const df = parseDockerfile('FROM x\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\nENV legacy some value\nENV q="a b" r=c\\ d\n');
  const s = newStageState({}, new Map(), new Map());
  const created = df.stages[0]!.instructions.map((i) => applyMetadata(s, i));
  assert.deepEqual(s.config.Env, ['abc=bye', 'def=hello', 'ghi=bye', 'legacy=some value', 'q=a b', 'r=c d']);
  assert.equal(created[0], '/bin/sh -c #(nop)  ENV abc=hello');
});

test('metadata instructions update the config', () => {
  const df = parseDockerfile([
    'FROM x',
    'ENV DIR=/app PORT=8080',
    'WORKDIR $DIR',
    'WORKDIR sub/',
    'USER ${USERNAME:-nobody}:1000',
    'LABEL "com.example.vendor"="ACME" version=1.0 multi="a b"',
    'EXPOSE $PORT 53/udp 7000-7001',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /var/$DIR',
    'STOPSIGNAL SIGTERM',
    'HEALTHCHECK --interval=5m --timeout=3s --retries=2 --start-period=1m30s CMD curl -f http://localhost/ || exit 1',
    'SHELL ["/bin/bash", "-c"]',
    'CMD echo $HOME',
    'ENTRYPOINT ["/e"]',
    'ONBUILD ADD . /app/src',
    'MAINTAINER me',
  ].join('\n'));
  const s = newStageState({ Cmd: ['sh'], Env: ['PATH=/bin'] }, new Map(), new Map());
  const h = df.stages[0]!.instructions.map((i) => applyMetadata(s, i));
  const c = s.config;
  assert.equal(c.WorkingDir, '/app/sub');
  assert.equal(c.User, 'nobody:1000');
  assert.deepEqual(c.Labels, { 'com.example.vendor': 'ACME', version: '1.0', multi: 'a b' });
  assert.deepEqual(Object.keys(c.ExposedPorts!), ['8080/tcp', '53/udp', '7000/tcp', '7001/tcp']);
  assert.deepEqual(Object.keys(c.Volumes!), ['/data', '/logs', '/var//app']);
  assert.equal(c.StopSignal, 'SIGTERM');
  assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], Interval: 300e9, Timeout: 3e9, StartPeriod: 90e9, Retries: 2 });
  assert.deepEqual(c.Shell, ['/bin/bash', '-c']);
  assert.deepEqual(c.Cmd, ['/bin/bash', '-c', 'echo $HOME']); // CMD set in this stage survives ENTRYPOINT
  assert.deepEqual(c.Entrypoint, ['/e']);
  assert.deepEqual(c.OnBuild, ['ADD . /app/src']);
  assert.equal(s.author, 'me');
  assert.equal(h[2], '/bin/sh -c #(nop) WORKDIR /app/sub');
  assert.equal(h[11], '/bin/bash -c #(nop)  CMD ["/bin/bash","-c","echo $HOME"]');
  // ENTRYPOINT resets an inherited CMD.
  const s2 = newStageState({ Cmd: ['sh'] }, new Map(), new Map());
  applyMetadata(s2, parseDockerfile('FROM x\nENTRYPOINT top -b').stages[0]!.instructions[0]!);
  assert.equal(s2.config.Cmd, null);
  assert.deepEqual(s2.config.Entrypoint, ['/bin/sh', '-c', 'top -b']);
  // HEALTHCHECK NONE and exec form.
  const s3 = newStageState({}, new Map(), new Map());
  for (const i of parseDockerfile('FROM x\nHEALTHCHECK NONE\nHEALTHCHECK CMD ["/bin/check", "-v"]').stages[0]!.instructions) applyMetadata(s3, i);
  assert.deepEqual(s3.config.Healthcheck, { Test: ['CMD', '/bin/check', '-v'] });
});

test('EXPOSE and durations', () => {
  assert.deepEqual(exposedPorts('80'), ['80/tcp']);
  assert.deepEqual(exposedPorts('80/UDP'), ['80/udp']);
  throwsMsg(() => exposedPorts('abc'), 'invalid containerPort: abc');
  throwsMsg(() => exposedPorts('80/xyz'), 'invalid proto: xyz');
  assert.equal(parseDuration('1m30s'), 90e9);
  assert.equal(parseDuration('500ms'), 5e8);
  assert.equal(parseDuration('1.5h'), 5400e9);
  assert.throws(() => parseDuration('5'));
  throwsMsg(() => parseDockerfile('FROM a\nHEALTHCHECK --interval=1x CMD x'), /time: invalid duration "1x"/);
});

test('RUN, CMD exec vs shell form; SHELL changes the wrapper', () => {
  const df = parseDockerfile('FROM x\nRUN ["echo", "a b"]\nRUN [not json\nSHELL ["/bin/ash", "-eo", "pipefail", "-c"]\nRUN echo hi | cat\n');
  const [exec, bad, shell, run] = df.stages[0]!.instructions as RunInstruction[];
  const s = newStageState({}, new Map(), new Map());
  assert.deepEqual(runCommand(s, exec!).argv, ['echo', 'a b']);
  assert.equal(runCommand(s, exec!).createdBy, 'echo a b');
  assert.deepEqual(runCommand(s, bad!).argv, ['/bin/sh', '-c', '[not json']);
  applyMetadata(s, shell!);
  assert.deepEqual(runCommand(s, run!).argv, ['/bin/ash', '-eo', 'pipefail', '-c', 'echo hi | cat']);
  // RUN text is not expanded by the builder.
  assert.deepEqual(runCommand(newStageState({ Env: ['A=1'] }, new Map(), new Map()), parseDockerfile('FROM x\nRUN echo $A').stages[0]!.instructions[0] as RunInstruction).argv, ['/bin/sh', '-c', 'echo $A']);
});

test('COPY/ADD flags and expansion', () => {
  const df = parseDockerfile('FROM x\nENV SRC=a.txt U=app\nCOPY --from=build --chown=$U:$U --chmod=644 --link $SRC "b c" /dst/\nADD --checksum=sha256:abc https://x/y.tar /\nCOPY ["$SRC", "with space", "/d"]\n');
  const s = newStageState({}, new Map(), new Map());
  const [env, copy, add, json] = df.stages[0]!.instructions as CopyInstruction[];
  applyMetadata(s, env!);
  assert.equal(copy!.link, true);
  assert.deepEqual(expandCopy(s, copy!), { sources: ['a.txt', 'b c'], dest: '/dst/', from: 'build', chown: 'app:app', chmod: '644' });
  assert.equal(add!.checksum, 'sha256:abc');
  assert.deepEqual(expandCopy(s, json!), { sources: ['a.txt', 'with space'], dest: '/d' });
  throwsMsg(() => parseDockerfile('FROM x\nADD --from=y a b'), 'Dockerfile:2: ADD: unknown flag: --from');
});

test('ONBUILD triggers parse back', () => {
  const t = parseTrigger('RUN echo hi');
  assert.equal(t.kind, 'RUN');
  assert.equal(parseTrigger('COPY --chown=1 a b').kind, 'COPY');
});

test('multi-stage layout', () => {
  const df = parseDockerfile('FROM busybox AS build\nRUN make\nFROM scratch\nCOPY --from=build /out /\nFROM build AS test\n');
  assert.deepEqual(df.stages.map((s) => [s.index, s.name, s.from.image, s.instructions.length]), [[0, 'build', 'busybox', 1], [1, undefined, 'scratch', 1], [2, 'test', 'build', 0]]);
});

test('stage state of a base image is not shared', () => {
  const base = { Env: ['A=1'] };
  const s: StageState = newStageState(base, new Map(), new Map());
  applyMetadata(s, parseDockerfile('FROM x\nENV A=2').stages[0]!.instructions[0]!);
  assert.deepEqual(base.Env, ['A=1']);
});
