// The pushgateway starter moved to dev/pushgateway.ts so the local demo can start it too (dev/ may not import test/).
export * from '../../dev/pushgateway.js';
