/**
 * relayctl: the operators' client for the admin API. The core here is runtime-neutral
 * (fetch, output and files are injected) so tests can run it against the Worker itself;
 * cli/main.ts wires it to Node (process, fs, a confirmation prompt).
 */
import type { CliIo, Command, Flags } from "./cli-kit";
import { CONNECT_COMMANDS } from "./connect-commands";
import { DELIVERY_COMMANDS } from "./delivery-commands";
import { REGISTRATION_COMMANDS } from "./registration-commands";

export type { CliIo };

const COMMANDS: Record<string, Command> = {
  ...REGISTRATION_COMMANDS,
  ...DELIVERY_COMMANDS,
  ...CONNECT_COMMANDS,
};

function help(io: CliIo): void {
  io.out("relayctl: manage a packit-gitlab-relay through its admin API");
  io.out("environment: RELAY_URL (e.g. https://relay.example.org), ADMIN_TOKEN");
  io.out("connect and disconnect need no ADMIN_TOKEN: GITLAB_TOKEN, a maintainer's access token");
  io.out("every command takes --json (machine-readable output) and --help\n");
  for (const cmd of Object.values(COMMANDS)) {
    io.out(`  ${cmd.usage}\n      ${cmd.summary}`);
  }
}

/** Runs one command line; returns the exit code. */
export async function relayctl(argv: readonly string[], io: CliIo): Promise<number> {
  const words = argv.filter((a) => !a.startsWith("-"));
  const name = COMMANDS[`${words[0]} ${words[1]}`] ? `${words[0]} ${words[1]}` : words[0];
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
      help(io);
      return argv.length === 0 ? 1 : 0;
    }
    io.err(`unknown command: ${argv.join(" ")}\nrun relayctl --help`);
    return 2;
  }
  const spec = { json: "boolean", help: "boolean", ...(command.flags ?? {}) } as const;
  const flags: Flags = {};
  const positional: string[] = [];
  const skip = name?.split(" ").length ?? 1;
  let seen = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg.startsWith("--")) {
      const [flag, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
      const type = (spec as Record<string, string>)[flag];
      if (!type) {
        io.err(`unknown option --${flag}\nusage: relayctl ${command.usage}`);
        return 2;
      }
      if (type === "boolean") {
        flags[flag] = true;
      } else {
        const value = inline ?? argv[++i];
        if (value === undefined) {
          io.err(`--${flag} needs a value`);
          return 2;
        }
        flags[flag] = value;
      }
    } else if (seen < skip) {
      seen++;
    } else {
      positional.push(arg);
    }
  }
  if (flags.help) {
    io.out(`usage: relayctl ${command.usage}\n${command.summary}`);
    return 0;
  }
  try {
    return await command.run(positional, flags, { io, json: flags.json === true });
  } catch (err) {
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
