// The etcd starter moved to dev/etcd.ts so the local demo can start it too (dev/ may not import test/).
export * from '../../dev/etcd.js';
