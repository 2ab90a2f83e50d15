// Every command: its path as typed (management forms included), the module that implements
// it (loaded only when the command runs) and a one-line summary for `berth --help`.

export interface Entry {
  /** Module under commands/, without extension. */
  module: string;
  /** The export of that module that runs the command. */
  fn: string;
  summary: string;
}

const e = (module: string, fn: string, summary: string): Entry => ({ module, fn, summary });

/** Top-level commands, as `docker --help` lists them. */
export const COMMANDS: Record<string, Entry> = {
  run: e('run', 'run', 'Create and run a new container from an image'),
  exec: e('exec', 'exec', 'Execute a command in a running container'),
  ps: e('ps', 'ps', 'List containers'),
  build: e('build', 'build', 'Build an image from a Dockerfile'),
  pull: e('pull', 'pull', 'Download an image from a registry'),
  push: e('pull', 'push', 'Upload an image to a registry'),
  images: e('images', 'images', 'List images'),
  login: e('auth', 'login', 'Authenticate to a registry'),
  logout: e('auth', 'logout', 'Log out from a registry'),
  search: e('images', 'search', 'Search Docker Hub for images'),
  version: e('system', 'version', 'Show the Berth version information'),
  info: e('system', 'info', 'Display system-wide information'),
  attach: e('attach', 'attach', "Attach local standard input, output, and error streams to a running container"),
  commit: e('container-misc', 'commit', "Create a new image from a container's changes"),
  cp: e('container-misc', 'cp', 'Copy files/folders between a container and the local filesystem'),
  create: e('run', 'create', 'Create a new container'),
  diff: e('container-misc', 'diff', "Inspect changes to files or directories on a container's filesystem"),
  events: e('system', 'events', 'Get real time events from the server'),
  export: e('container-misc', 'exportContainer', "Export a container's filesystem as a tar archive"),
  history: e('images', 'history', 'Show the history of an image'),
  import: e('images', 'importImage', 'Import the contents from a tarball to create a filesystem image'),
  inspect: e('inspect', 'inspect', 'Return low-level information on Berth objects'),
  kill: e('lifecycle', 'kill', 'Kill one or more running containers'),
  load: e('images', 'load', 'Load an image from a tar archive or STDIN'),
  logs: e('logs', 'logs', 'Fetch the logs of a container'),
  pause: e('lifecycle', 'pause', 'Pause all processes within one or more containers'),
  port: e('container-misc', 'port', 'List port mappings or a specific mapping for the container'),
  rename: e('lifecycle', 'rename', 'Rename a container'),
  restart: e('lifecycle', 'restart', 'Restart one or more containers'),
  rm: e('lifecycle', 'rm', 'Remove one or more containers'),
  rmi: e('images', 'rmi', 'Remove one or more images'),
  save: e('images', 'save', 'Save one or more images to a tar archive (streamed to STDOUT by default)'),
  start: e('lifecycle', 'start', 'Start one or more stopped containers'),
  stats: e('stats', 'stats', 'Display a live stream of container(s) resource usage statistics'),
  stop: e('lifecycle', 'stop', 'Stop one or more running containers'),
  tag: e('images', 'tag', 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'),
  top: e('container-misc', 'top', 'Display the running processes of a container'),
  unpause: e('lifecycle', 'unpause', 'Unpause all processes within one or more containers'),
  update: e('lifecycle', 'update', 'Update configuration of one or more containers'),
  wait: e('lifecycle', 'wait', 'Block until one or more containers stop, then print their exit codes'),
  completion: e('completion', 'completion', 'Generate the autocompletion script for the specified shell'),
};

/** Management commands: `container ls` and friends. */
export const MANAGEMENT: Record<string, { summary: string; commands: Record<string, Entry> }> = {
  container: {
    summary: 'Manage containers',
    commands: {
      attach: COMMANDS.attach!,
      commit: COMMANDS.commit!,
      cp: COMMANDS.cp!,
      create: COMMANDS.create!,
      diff: COMMANDS.diff!,
      exec: COMMANDS.exec!,
      export: COMMANDS.export!,
      inspect: e('inspect', 'containerInspect', 'Display detailed information on one or more containers'),
      kill: COMMANDS.kill!,
      logs: COMMANDS.logs!,
      ls: COMMANDS.ps!,
      list: COMMANDS.ps!,
      ps: COMMANDS.ps!,
      pause: COMMANDS.pause!,
      port: COMMANDS.port!,
      prune: e('lifecycle', 'prune', 'Remove all stopped containers'),
      rename: COMMANDS.rename!,
      restart: COMMANDS.restart!,
      rm: COMMANDS.rm!,
      remove: COMMANDS.rm!,
      run: COMMANDS.run!,
      start: COMMANDS.start!,
      stats: COMMANDS.stats!,
      stop: COMMANDS.stop!,
      top: COMMANDS.top!,
      unpause: COMMANDS.unpause!,
      update: COMMANDS.update!,
      wait: COMMANDS.wait!,
    },
  },
  image: {
    summary: 'Manage images',
    commands: {
      build: COMMANDS.build!,
      history: COMMANDS.history!,
      import: COMMANDS.import!,
      inspect: e('inspect', 'imageInspect', 'Display detailed information on one or more images'),
      load: COMMANDS.load!,
      ls: COMMANDS.images!,
      list: COMMANDS.images!,
      prune: e('images', 'prune', 'Remove unused images'),
      pull: COMMANDS.pull!,
      push: COMMANDS.push!,
      rm: COMMANDS.rmi!,
      remove: COMMANDS.rmi!,
      save: COMMANDS.save!,
      tag: COMMANDS.tag!,
    },
  },
  network: {
    summary: 'Manage networks',
    commands: {
      connect: e('network', 'connect', 'Connect a container to a network'),
      create: e('network', 'create', 'Create a network'),
      disconnect: e('network', 'disconnect', 'Disconnect a container from a network'),
      inspect: e('inspect', 'networkInspect', 'Display detailed information on one or more networks'),
      ls: e('network', 'ls', 'List networks'),
      list: e('network', 'ls', 'List networks'),
      prune: e('network', 'prune', 'Remove all unused networks'),
      rm: e('network', 'rm', 'Remove one or more networks'),
      remove: e('network', 'rm', 'Remove one or more networks'),
    },
  },
  volume: {
    summary: 'Manage volumes',
    commands: {
      create: e('volume', 'create', 'Create a volume'),
      inspect: e('inspect', 'volumeInspect', 'Display detailed information on one or more volumes'),
      ls: e('volume', 'ls', 'List volumes'),
      list: e('volume', 'ls', 'List volumes'),
      prune: e('volume', 'prune', 'Remove unused local volumes'),
      rm: e('volume', 'rm', 'Remove one or more volumes'),
      remove: e('volume', 'rm', 'Remove one or more volumes'),
    },
  },
  system: {
    summary: 'Manage Berth',
    commands: {
      df: e('system', 'df', 'Show docker disk usage'),
      events: COMMANDS.events!,
      info: COMMANDS.info!,
      prune: e('system', 'prune', 'Remove unused data'),
    },
  },
};
