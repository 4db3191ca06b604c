// Use cases for domains, projects, users and groups: policy, validation beyond the schema,
// cascades and token revocation when access is taken away. One file per entity in directory/.
import { directoryCore, type DirectoryDeps } from './directory/common.ts';
import { domainUseCases } from './directory/domains.ts';
import { projectUseCases } from './directory/projects.ts';
import { scopeUseCases } from './directory/scopes.ts';
import { userUseCases } from './directory/users.ts';
import { groupUseCases } from './directory/groups.ts';

export type {
  DirectoryDeps,
  DomainInput,
  GroupInput,
  ProjectInput,
  UserInput,
} from './directory/common.ts';
export { defined } from './directory/common.ts';
export { descendants } from './directory/projects.ts';
export { projectsOf } from './directory/scopes.ts';

export function createDirectoryService(deps: DirectoryDeps) {
  const core = directoryCore(deps);
  return {
    requireDomain: core.requireDomain,
    requireProject: core.requireProject,
    requireUser: core.requireUser,
    requireGroup: core.requireGroup,
    ...domainUseCases(core),
    ...projectUseCases(core),
    ...scopeUseCases(core),
    ...userUseCases(core),
    ...groupUseCases(core),
  };
}

export type DirectoryServiceApi = ReturnType<typeof createDirectoryService>;
