import { type AccountView, AccountsService } from '@jibe/kubernetes';
import { Controller, Get } from '@nestjs/common';

/**
 * `GET /api/accounts`: each Kubernetes account with its kind, allowed namespaces and whether its cluster answers
 * right now. Never credentials, kubeconfig paths or endpoints. Needs `KubernetesModule.forRoot(config)` imported.
 */
@Controller('api/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Get()
  async list(): Promise<{ items: AccountView[] }> {
    return { items: await this.accounts.list() };
  }
}
