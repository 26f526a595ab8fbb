import { connect as tcpConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { AlertSink, SecurityAlert } from '../../../application/security-alerts.js';
import { SYSLOG_SEVERITY, toCef } from './cef.js';

/** authpriv: security and authorization messages. */
const FACILITY = 10;
const HOST = hostname().replace(/[^\x21-\x7e]/gu, '-').slice(0, 255) || '-';

export interface SyslogTarget {
  /** tcp://host:port or tls://host:port */
  url: string;
  /** PEM of the CA that signed the collector's certificate, when not one the system trusts. */
  ca?: string;
}

/** An RFC 5424 message with the CEF record as its MSG, framed by octet counting (RFC 6587 / RFC 5425). */
export function syslogFrame(alert: SecurityAlert, version: string): string {
  const pri = FACILITY * 8 + SYSLOG_SEVERITY[alert.severity];
  const message = `<${pri}>1 ${new Date(alert.at).toISOString()} ${HOST} agentmesh ${process.pid} ${alert.kind.slice(0, 32)} - ${toCef(alert, version)}`;
  return `${Buffer.byteLength(message)} ${message}`;
}

/** Alerts to a syslog collector over TCP or TLS: one connection, opened on demand, reopened after an error. */
export class SyslogSink implements AlertSink {
  readonly name: string;
  private socket: Socket | undefined;
  private readonly target: URL;

  constructor(
    private readonly options: SyslogTarget,
    private readonly version: string,
  ) {
    this.target = new URL(options.url);
    this.name = `syslog ${this.target.protocol}//${this.target.host}`;
  }

  private open(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    const port = Number(this.target.port || 6514);
    const host = this.target.hostname;
    return new Promise((resolve, reject) => {
      const socket =
        this.target.protocol === 'tls:'
          ? tlsConnect({ host, port, servername: host, ...(this.options.ca !== undefined && { ca: this.options.ca }) }, () => resolve(socket))
          : tcpConnect({ host, port }, () => resolve(socket));
      socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer from ${this.name} within 10 s`)));
      socket.once('error', (error) => {
        this.socket = undefined;
        reject(error);
      });
      socket.on('close', () => {
        if (this.socket === socket) this.socket = undefined;
      });
      this.socket = socket;
    });
  }

  async send(alerts: readonly SecurityAlert[]): Promise<void> {
    const socket = await this.open();
    const data = alerts.map((a) => syslogFrame(a, this.version)).join('');
    await new Promise<void>((resolve, reject) => {
      socket.write(data, (error) => {
        if (error) {
          socket.destroy();
          reject(error);
        } else resolve();
      });
    });
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) await new Promise<void>((resolve) => socket.end(resolve));
  }
}
