// Shapes of the Vault/OpenBao HTTP API responses fleetvault uses. Only the fields we read.

export interface VaultAuth {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies?: string[];
  metadata?: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id?: string;
  num_uses?: number;
}

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
}

export interface VaultResponse<T = Record<string, unknown>> {
  request_id?: string;
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data: T;
  auth?: VaultAuth | null;
  wrap_info?: WrapInfo | null;
  warnings?: string[] | null;
}

export interface HealthStatus {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
  cluster_name?: string;
}
