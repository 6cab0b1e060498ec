/**
 * Which company a lease belongs to. `leasebox serve` takes any lease id its
 * client names; Paperclip names a company on every call, so the plugin
 * answers a call about a lease only for the company the lease was acquired
 * for (the lease's `leasebox.dev/company-id`, stamped by leasebox). A lease
 * id of another company is answered as unknown, never touched.
 */

import { LeaseboxError, type LeaseboxClient, type Lease } from '@leasebox/client';

/** What the plugin knows of a lease it checked. */
export interface KnownLease {
  id: string;
  companyId: string;
  namespace: string;
  expiresAt: string;
  /** The environment that acquired or resumed it through this worker; null when only looked up. */
  environmentId: string | null;
}

/** Who a call is made for. */
export interface Caller {
  companyId: string;
  environmentId: string;
}

/** A lease that is gone, or that is not this caller's company's: the call cannot touch it. */
export class UnknownLease extends Error {
  constructor(
    readonly leaseId: string,
    /** True when the lease is gone; false when it exists but is another company's. */
    readonly gone: boolean,
    readonly why: string,
  ) {
    super(`lease ${leaseId} ${why}`);
  }
}

export class LeaseRegistry {
  private readonly known = new Map<string, KnownLease>();

  /** Notes a lease acquired or resumed for `caller`. */
  remember(lease: Lease, caller: Caller): KnownLease {
    const known = {
      id: lease.id,
      companyId: lease.companyId,
      namespace: lease.namespace,
      expiresAt: lease.expiresAt,
      environmentId: caller.environmentId,
    };
    this.known.set(lease.id, known);
    return known;
  }

  forget(leaseId: string): void {
    this.known.delete(leaseId);
  }

  /** The lease as remembered, without asking the server; undefined when this worker did not acquire or resume it. */
  remembered(leaseId: string): KnownLease | undefined {
    return this.known.get(leaseId);
  }

  /**
   * The lease `leaseId` when it is `caller`'s company's; asks the server
   * (`status`) when this worker has not seen it. Rejects with
   * {@link UnknownLease} when it is gone or another company's.
   */
  async owned(client: LeaseboxClient, caller: Caller, leaseId: string): Promise<KnownLease> {
    const known = this.known.get(leaseId) ?? (await this.lookUp(client, leaseId));
    if (known.companyId !== caller.companyId) {
      throw new UnknownLease(leaseId, false, `is not a lease of company ${caller.companyId}`);
    }
    return known;
  }

  private async lookUp(client: LeaseboxClient, leaseId: string): Promise<KnownLease> {
    try {
      const { lease } = await client.leaseStatus({ providerLeaseId: leaseId });
      const known = {
        id: lease.id,
        companyId: lease.companyId,
        namespace: lease.namespace,
        expiresAt: lease.expiresAt,
        environmentId: null,
      };
      this.known.set(leaseId, known);
      return known;
    } catch (error) {
      if (error instanceof LeaseboxError && error.reason === 'lease-not-found') {
        throw new UnknownLease(leaseId, true, 'is gone (released, expired or never made)');
      }
      throw error;
    }
  }
}
