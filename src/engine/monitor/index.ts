// berth-monitor's TypeScript face: start a monitor, attach to it, read its log and exit file.
export { startMonitor, type ExitChannel, type MonitorOptions, type MonitorLogOptions, type MonitorStarted } from './start-monitor.js';
export { attach, demux, encodeFrame, FrameDecoder, AttachConnection, MSG_HANDOFF, MSG_HOLD, MSG_RELEASE, STREAM_STDIN, STREAM_STDOUT, STREAM_STDERR, type Frame } from './attach.js';
export { readExitFile, readExitFileSync, parseExitFile, waitForExitFile, type ExitStatus, type WaitExitOptions } from './exit-file.js';
export { readJsonLog, readJsonLogBatches, parseLogLine, parseRfc3339Nano, type LogEntry, type ReadLogOptions } from './json-log.js';
export { berthMonitorPath } from './monitor-path.js';
export { MonitorSpawner } from './spawner.js';
