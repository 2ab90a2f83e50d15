{
  "targets": [
    {
      "target_name": "berth_addon",
      "sources": ["native/addon/addon.c", "native/addon/seccomp.c", "native/addon/bpf.c", "native/addon/fdpass.c", "native/addon/fs.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-std=gnu11"],
      "libraries": ["-ldl"]
    },
    {
      "target_name": "berth-init",
      "type": "executable",
      "sources": ["native/init/main.c", "native/init/program.c", "native/init/report.c", "native/common/text.c", "native/init/selfclone.c",
                  "native/init/proc.c", "native/init/sync.c", "native/init/mount.c", "native/init/creds.c",
                  "native/init/exec.c", "native/init/console.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-std=gnu11", "-Os", "-ffunction-sections", "-fdata-sections"],
      "ldflags": ["-static", "-Wl,--gc-sections", "-s"]
    },
    {
      "target_name": "berth-monitor",
      "type": "executable",
      "sources": ["native/monitor/main.c", "native/monitor/util.c", "native/common/text.c", "native/monitor/log.c",
                  "native/monitor/attach.c", "native/monitor/child.c", "native/monitor/spawner.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-std=gnu11", "-Os", "-ffunction-sections", "-fdata-sections"],
      "ldflags": ["-static", "-Wl,--gc-sections", "-s"]
    },
    {
      "target_name": "berth-runc-fast",
      "type": "executable",
      "sources": ["native/fastrun/main.c", "native/fastrun/plan.c", "native/fastrun/run.c", "native/fastrun/sha256.c"],
      "defines": ["BERTH_VERSION=<!(node -p \"require('./package.json').version\")"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-std=gnu11", "-O2", "-ffunction-sections", "-fdata-sections"],
      "ldflags": ["-static", "-Wl,--gc-sections", "-s"]
    }
  ]
}
