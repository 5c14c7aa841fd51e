// The nats starter moved to dev/nats.ts so the local demo can start it too (dev/ may not import test/).
export * from '../../dev/nats.js';
