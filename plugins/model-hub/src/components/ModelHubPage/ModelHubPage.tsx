import { Header, Page, TabbedLayout } from '@backstage/core-components';
import { ApprovalsPage } from '../ApprovalsPage';
import { AuditPage } from '../AuditPage';
import { LocalScanPage } from '../LocalScanPage';
import { HfImportPage } from '../HfImportPage';
import { HubDashboard } from '../HubDashboard';
import { JobsPage } from '../JobsPage';
import { ModelsTable } from '../ModelsTable';
import { SourcesPage } from '../SourcesPage';
import { UploadPage } from '../UploadPage';
import { HUB_PATHS } from '../../lib/hooks';

/** Props of {@link ModelHubPage}. @public */
export type ModelHubPageProps = {
  /** The page title; default `Model Hub`. */
  title?: string;
  /** The subtitle; default a one-line description. */
  subtitle?: string;
};

/**
 * The Model Hub page of legacy apps: the dashboard, models, upload,
 * approvals, jobs and Hugging Face import as tabs. Apps on the new frontend
 * system get the same tabs as sub-pages of `page:model-hub`.
 *
 * @public
 */
export function ModelHubPage(props: ModelHubPageProps) {
  return (
    <Page themeId="tool">
      <Header
        title={props.title ?? 'Model Hub'}
        subtitle={
          props.subtitle ??
          'Models, their versions and files, approvals and sync jobs'
        }
      />
      <TabbedLayout>
        <TabbedLayout.Route path={`/${HUB_PATHS.overview}`} title="Overview">
          <HubDashboard />
        </TabbedLayout.Route>
        <TabbedLayout.Route path={`/${HUB_PATHS.models}`} title="Models">
          <ModelsTable />
        </TabbedLayout.Route>
        <TabbedLayout.Route path={`/${HUB_PATHS.upload}`} title="Upload">
          <UploadPage />
        </TabbedLayout.Route>
        <TabbedLayout.Route path={`/${HUB_PATHS.approvals}`} title="Approvals">
          <ApprovalsPage />
        </TabbedLayout.Route>
        <TabbedLayout.Route path={`/${HUB_PATHS.jobs}`} title="Jobs">
          <JobsPage />
        </TabbedLayout.Route>
        <TabbedLayout.Route
          path={`/${HUB_PATHS.import}`}
          title="Import from Hugging Face"
        >
          <HfImportPage />
        </TabbedLayout.Route>
        <TabbedLayout.Route path={`/${HUB_PATHS.sources}`} title="Sources">
          <SourcesPage />
        </TabbedLayout.Route>
        <TabbedLayout.Route path={`/${HUB_PATHS.audit}`} title="Audit">
          <AuditPage />
        </TabbedLayout.Route>
        <TabbedLayout.Route path={`/${HUB_PATHS.scan}`} title="Local scan">
          <LocalScanPage />
        </TabbedLayout.Route>
      </TabbedLayout>
    </Page>
  );
}
