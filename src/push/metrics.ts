// The push capability's counters and their /metrics text: pushes by method, status code and
// Pushgateway, forward latency, each Pushgateway's health and group count, refusals, retries and
// rebalances. Kept apart from the service so the families and their names are in one place.

/** What one rebalance run did (also its part of /status). */
export interface RebalanceReport {
  started: string;
  duration_seconds: number;
  groups: number;
  moved: number;
  stale_deleted: number;
  failed: number;
  unreadable: string[];
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export interface MemberView {
  address: string;
  healthy: boolean;
  groups: number | undefined;
}

export class PushMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latencies = new Map<string, Histogram>();
  private readonly refusals = new Map<string, number>();
  private readonly forwardFailures = new Map<string, number>();
  private retries = 0;
  private moved = 0;
  private movesFailed = 0;
  private staleDeleted = 0;
  private rebalances = 0;

  request(method: string, code: number, pushgateway: string): void {
    const k = JSON.stringify([method, String(code), pushgateway]);
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  latency(pushgateway: string, seconds: number): void {
    let h = this.latencies.get(pushgateway);
    if (!h) this.latencies.set(pushgateway, (h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) h.counts[i]++;
    });
    h.sum += seconds;
    h.count++;
  }

  refused(reason: 'bad_path' | 'too_large' | 'no_pushgateway'): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  forwardFailed(pushgateway: string): void {
    this.forwardFailures.set(pushgateway, (this.forwardFailures.get(pushgateway) ?? 0) + 1);
  }

  retried(): void {
    this.retries++;
  }

  rebalanced(r: RebalanceReport): void {
    this.rebalances++;
    this.moved += r.moved;
    this.movesFailed += r.failed;
    this.staleDeleted += r.stale_deleted;
  }

  statusPart(): Record<string, unknown> {
    return {
      refused: Object.fromEntries(this.refusals),
      forward_failures: Object.fromEntries(this.forwardFailures),
      retries: this.retries,
      groups_moved: this.moved,
      group_moves_failed: this.movesFailed,
      stale_copies_deleted: this.staleDeleted,
      rebalances: this.rebalances,
    };
  }

  render(members: MemberView[]): string {
    let out = '';
    out +=
      '# HELP promfront_push_requests_total Pushes (PUT, POST, DELETE on /metrics/job/...) answered, by method, status code and the Pushgateway that answered ("" when none did).\n';
    out += '# TYPE promfront_push_requests_total counter\n';
    for (const [k, v] of this.requests) {
      const [method, code, pgw] = JSON.parse(k) as string[];
      out += `promfront_push_requests_total{method="${method}",code="${code}",pushgateway="${esc(pgw)}"} ${v}\n`;
    }
    out += '# HELP promfront_push_forward_duration_seconds Time from forwarding a push to a Pushgateway to its answer headers.\n';
    out += '# TYPE promfront_push_forward_duration_seconds histogram\n';
    for (const [pgw, h] of this.latencies) {
      const l = `pushgateway="${esc(pgw)}"`;
      BUCKETS.forEach((b, i) => (out += `promfront_push_forward_duration_seconds_bucket{${l},le="${b}"} ${h.counts[i]}\n`));
      out += `promfront_push_forward_duration_seconds_bucket{${l},le="+Inf"} ${h.count}\n`;
      out += `promfront_push_forward_duration_seconds_sum{${l}} ${h.sum}\n`;
      out += `promfront_push_forward_duration_seconds_count{${l}} ${h.count}\n`;
    }
    out += '# HELP promfront_push_pushgateway_up Whether the Pushgateway passed its last health check (/-/healthy and /-/ready) and is in the ring.\n';
    out += '# TYPE promfront_push_pushgateway_up gauge\n';
    for (const m of members) out += `promfront_push_pushgateway_up{pushgateway="${esc(m.address)}"} ${m.healthy ? 1 : 0}\n`;
    out += '# HELP promfront_push_pushgateway_groups Groups the Pushgateway held at the last rebalance scan.\n';
    out += '# TYPE promfront_push_pushgateway_groups gauge\n';
    for (const m of members) if (m.groups !== undefined) out += `promfront_push_pushgateway_groups{pushgateway="${esc(m.address)}"} ${m.groups}\n`;
    out += '# HELP promfront_push_refused_total Pushes refused before reaching a Pushgateway, by reason.\n';
    out += '# TYPE promfront_push_refused_total counter\n';
    for (const reason of ['bad_path', 'too_large', 'no_pushgateway'])
      out += `promfront_push_refused_total{reason="${reason}"} ${this.refusals.get(reason) ?? 0}\n`;
    out += '# HELP promfront_push_forward_failures_total Forwards that got no answer from the Pushgateway (connection failed, timeout).\n';
    out += '# TYPE promfront_push_forward_failures_total counter\n';
    for (const [pgw, v] of this.forwardFailures) out += `promfront_push_forward_failures_total{pushgateway="${esc(pgw)}"} ${v}\n`;
    out += '# HELP promfront_push_retries_total Pushes sent again to the next owner after the owner gave no answer.\n';
    out += '# TYPE promfront_push_retries_total counter\n';
    out += `promfront_push_retries_total ${this.retries}\n`;
    out += '# HELP promfront_push_groups_moved_total Groups copied to their new owner by a rebalance.\n';
    out += '# TYPE promfront_push_groups_moved_total counter\n';
    out += `promfront_push_groups_moved_total ${this.moved}\n`;
    out += '# HELP promfront_push_group_moves_failed_total Copies or deletes of a rebalance that a Pushgateway refused or did not answer.\n';
    out += '# TYPE promfront_push_group_moves_failed_total counter\n';
    out += `promfront_push_group_moves_failed_total ${this.movesFailed}\n`;
    out += '# HELP promfront_push_stale_copies_deleted_total Copies of a group deleted from a Pushgateway that does not own it.\n';
    out += '# TYPE promfront_push_stale_copies_deleted_total counter\n';
    out += `promfront_push_stale_copies_deleted_total ${this.staleDeleted}\n`;
    out += '# HELP promfront_push_rebalances_total Rebalance runs.\n';
    out += '# TYPE promfront_push_rebalances_total counter\n';
    out += `promfront_push_rebalances_total ${this.rebalances}\n`;
    return out;
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
