// The `eventops` command (also installed as `eoctl`). Parses arguments with commander and
// maps outcomes to exit codes: 0 success, 1 the check failed, 2 a usage error.
import { Command, CommanderError, Option } from 'commander';
import { convertCommand } from './commands/convert.js';
import { addSourcesCommands } from './commands/sources.js';
import { addTokensCommands } from './commands/tokens.js';
import { addStatusCommand } from './commands/status.js';
import { addEventCommands, addEventsCommands } from './commands/events.js';
import { addRunsCommands } from './commands/runs.js';
import { validateCommand } from './commands/validate.js';
import { OUTPUT_FORMATS, parseOutputFormat, UsageError, type Io } from './output.js';

import { VERSION } from './version.js';

export { VERSION };

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('eventops')
    .description('GitOps reconciler for event-driven ops pipelines')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(run `eventops help` for usage)');

  program
    .command('validate')
    .description('check definition files (folders are searched for .yaml/.yml); exit 1 when any is invalid')
    .argument('[paths...]', 'files or folders', [])
    .addOption(new Option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join(', ')}`).default('table'))
    .option('--strict', 'treat warnings as errors')
    .action(async (paths: string[], opts: { output: string; strict?: boolean }) => {
      setExit(await validateCommand(paths, { output: parseOutputFormat(opts.output), strict: opts.strict === true }, io));
    });

  program
    .command('convert')
    .description('print original eventops files (actuator, pipeline, trigger, event) in the v1 language')
    .argument('<paths...>', 'files or folders')
    .action(async (paths: string[]) => {
      setExit(await convertCommand(paths, io));
    });

  program
    .command('test-event')
    .description('match an event against a folder of definitions, offline: each trigger\'s verdict, the runs it would start; exit 0 when one matched, 1 when none')
    .requiredOption('-f, --file <event>', 'the event (YAML or JSON): a v1 Event, a CloudEvents envelope, or a GitHub payload with --github-event')
    .option('--definitions <dir>', 'the definitions folder', '.')
    .option('--github-event <name>', 'the file is a GitHub webhook payload of this event (push, pull_request, issue_comment, …)')
    .addOption(new Option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join(', ')}`).default('table'))
    .action(async (opts: { file: string; definitions: string; githubEvent?: string; output: string }) => {
      // Loaded on use: the matching code is not needed by the other commands.
      const { testEventCommand } = await import('./commands/test-event.js');
      setExit(await testEventCommand({ ...opts, output: parseOutputFormat(opts.output) }, io));
    });

  program
    .command('serve')
    .description('start eventops: the HTTP API and webhooks, the workers that match events and run pipelines, and the reconciler (configured by eventops.yaml; embedded database and queue when none is set)')
    .option('-c, --config <file>', 'configuration file (default: EVENTOPS_CONFIG, else ./eventops.yaml when it exists)')
    .option('-p, --port <port>', 'port to listen on (overrides server.port and PORT)')
    .option('--role <roles>', 'run only these roles, comma-separated: api (HTTP API, webhooks, NATS), worker (queue workers, sweepers), reconciler (sources, schedules); default: all')
    .action(async (opts: { config?: string; port?: string }) => {
      // Loaded on use: the server (workers, runners) is not needed by the commands that call one.
      const { serveCommand } = await import('./commands/serve.js');
      setExit(await serveCommand(opts, io));
    });

  program
    .command('agent')
    .description('run tasks for a server that cannot reach this host: dial out to it over a WebSocket and run the tasks it sends to agent ID (local shell, or Docker with --docker-host)')
    .requiredOption('--server <url>', 'the eventops server, e.g. https://eventops.example.com')
    .requiredOption('--id <id>', 'the agent id, as actuators name it (agent: { id })')
    .option('--token <token>', 'the agent token (default: EVENTOPS_AGENT_TOKEN; prefer it, as arguments are visible to other users)')
    .option('--work-dir <dir>', 'parent of the tasks\' work folders (default: ~/.eventops-agent/work)')
    .option('--docker-host <url>', 'run tasks that name an image in Docker at this host (unix:///var/run/docker.sock, tcp://…)')
    .action(async (opts: { server: string; id: string; token?: string; workDir?: string; dockerHost?: string }) => {
      const { agentCommand } = await import('./commands/agent.js');
      setExit(await agentCommand(opts, io));
    });

  addSourcesCommands(program.command('sources').description("the running server's sources: list, get, reconcile"), io, setExit);
  addEventCommands(program.command('event').description('send an event to the running server'), io, setExit);
  addEventsCommands(program.command('events').description("the running server's events: list, get (why each trigger matched or not)"), io, setExit);
  addRunsCommands(program.command('runs').description("the running server's runs: list, get, logs (-f follows), cancel, approve, reject"), io, setExit);
  addStatusCommand(program, io, setExit);
  addTokensCommands(program.command('tokens').description('API tokens of the running server: create, list (admin scope)'), io, setExit);

  return program;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return 2;
    }
    if (error instanceof UsageError) {
      io.err(`eventops: ${error.message}\n`);
      return 2;
    }
    io.err(`eventops: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
