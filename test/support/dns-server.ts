// A tiny authoritative DNS server on 127.0.0.1 (UDP) for the DNS service discovery tests: answers
// A, AAAA and SRV questions from a table the test edits, NXDOMAIN for unknown names, and on demand
// SERVFAIL for everything. Only what node's resolver (c-ares) needs: one question, no compression
// except the answer's pointer back to the question name.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export interface SrvRecord {
  target: string;
  port: number;
  priority?: number;
  weight?: number;
}

export interface DnsTable {
  A: Record<string, string[]>;
  AAAA: Record<string, string[]>;
  SRV: Record<string, SrvRecord[]>;
}

export interface DnsServer {
  /** "127.0.0.1:port", for Resolver.setServers. */
  address: string;
  table: DnsTable;
  /** 'answer' serves the table; 'servfail' answers every question with SERVFAIL. */
  mode: 'answer' | 'servfail';
  /** Questions received, e.g. "SRV _prom._tcp.test". */
  questions: string[];
  close(): Promise<void>;
}

const TYPES: Record<number, keyof DnsTable> = { 1: 'A', 28: 'AAAA', 33: 'SRV' };
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export async function startDnsServer(): Promise<DnsServer> {
  const socket: Socket = createSocket('udp4');
  const server: DnsServer = {
    address: '',
    table: { A: {}, AAAA: {}, SRV: {} },
    mode: 'answer',
    questions: [],
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, rinfo) => {
    const reply = answer(server, msg);
    if (reply !== undefined) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  server.address = `127.0.0.1:${socket.address().port}`;
  return server;
}

function answer(server: DnsServer, q: Buffer): Buffer | undefined {
  if (q.length < 12 || q.readUInt16BE(4) !== 1) return undefined;
  let off = 12;
  const labels: string[] = [];
  for (;;) {
    const len = q[off];
    if (len === undefined) return undefined;
    off++;
    if (len === 0) break;
    labels.push(q.subarray(off, off + len).toString('latin1'));
    off += len;
  }
  const qtype = q.readUInt16BE(off);
  const questionEnd = off + 4;
  const name = labels.join('.').toLowerCase();
  const type = TYPES[qtype];
  server.questions.push(`${type ?? qtype} ${name}`);

  const rrs: Buffer[] = [];
  let rcode = 0;
  if (server.mode === 'servfail') rcode = RCODE_SERVFAIL;
  else {
    const known = Object.values(server.table).some((byName) => name in byName);
    if (!known) rcode = RCODE_NXDOMAIN;
    else if (type !== undefined) {
      for (const rec of (server.table[type] as Record<string, unknown[]>)[name] ?? []) rrs.push(resourceRecord(qtype, rdata(type, rec)));
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.readUInt16BE(0), 0); // id
  const rd = q.readUInt16BE(2) & 0x0100;
  header.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | rcode, 2); // QR, AA, RD as asked, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rrs.length, 6);
  return Buffer.concat([header, q.subarray(12, questionEnd), ...rrs]);
}

function resourceRecord(qtype: number, data: Buffer): Buffer {
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0); // the question's name
  rr.writeUInt16BE(qtype, 2);
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(5, 6); // TTL
  rr.writeUInt16BE(data.length, 10);
  return Buffer.concat([rr, data]);
}

function rdata(type: keyof DnsTable, rec: unknown): Buffer {
  switch (type) {
    case 'A': {
      const ip = rec as string;
      if (!isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`);
      return Buffer.from(ip.split('.').map(Number));
    }
    case 'AAAA':
      return ipv6Bytes(rec as string);
    case 'SRV': {
      const r = rec as SrvRecord;
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(r.priority ?? 10, 0);
      fixed.writeUInt16BE(r.weight ?? 10, 2);
      fixed.writeUInt16BE(r.port, 4);
      return Buffer.concat([fixed, encodeName(r.target)]);
    }
  }
}

function encodeName(name: string): Buffer {
  const parts = name
    .replace(/\.$/, '')
    .split('.')
    .filter((p) => p !== '');
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

function ipv6Bytes(ip: string): Buffer {
  if (!isIPv6(ip)) throw new Error(`not an IPv6 address: ${ip}`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
