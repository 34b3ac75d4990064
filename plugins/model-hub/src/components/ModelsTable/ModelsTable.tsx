import {
  Content,
  Link,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { MODEL_TYPES } from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Chip from '@material-ui/core/Chip';
import MenuItem from '@material-ui/core/MenuItem';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { useEffect, useMemo, useRef, useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import {
  HubModelSummary,
  ListModelsRequest,
  modelHubApiRef,
  SourceType,
  VERSION_STATES,
  VersionState,
} from '../../api';
import { formatTime, humanize } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { StatePill } from '../StatePill';

/** The filters above the table. */
export type ModelsTableFilters = {
  namespace?: string;
  type?: string;
  state?: VersionState;
  owner?: string;
  source?: SourceType;
  tag?: string;
};

const SORTABLE: Record<string, ListModelsRequest['sort']> = {
  name: 'name',
  updatedAt: 'updatedAt',
  createdAt: 'createdAt',
};

function sourceLabel(model: HubModelSummary) {
  const source = model.source;
  if (source && typeof source === 'object' && 'huggingface' in source) {
    return source.huggingface.repo;
  }
  return 'Upload';
}

function SelectFilter(props: {
  label: string;
  value?: string;
  options: readonly string[];
  /** Whether options are shown humanized (default true). */
  humanizeOptions?: boolean;
  onChange(value?: string): void;
}) {
  return (
    <TextField
      select
      label={props.label}
      value={props.value ?? ''}
      onChange={e => props.onChange(e.target.value || undefined)}
      size="small"
      variant="outlined"
      style={{ minWidth: 140 }}
      SelectProps={{ inputProps: { 'aria-label': props.label } }}
    >
      <MenuItem value="">All</MenuItem>
      {props.options.map(o => (
        <MenuItem key={o} value={o}>
          {props.humanizeOptions === false ? o : humanize(o)}
        </MenuItem>
      ))}
    </TextField>
  );
}

/** The worst state of a model's versions, in words. */
function WorstState(props: { model: HubModelSummary }) {
  const worst = props.model.worstState;
  if (!worst) {
    return <>–</>;
  }
  const failed = worst.failedChecks ?? [];
  return (
    <Box
      display="flex"
      alignItems="center"
      flexWrap="wrap"
      style={{ gap: 4 }}
      data-testid="worst-state"
      title={
        failed.length
          ? `Version ${worst.label} is ${humanize(
              worst.state,
            ).toLocaleLowerCase('en-US')} with failed checks: ${failed.join(
              ', ',
            )}`
          : `Version ${worst.label} is ${humanize(
              worst.state,
            ).toLocaleLowerCase('en-US')}`
      }
    >
      <span style={{ whiteSpace: 'nowrap' }}>{worst.label}</span>
      <StatePill state={worst.state} />
      {failed.length > 0 && (
        <Typography variant="caption" color="error" display="block">
          check failed ({failed.join(', ')})
        </Typography>
      )}
    </Box>
  );
}

/** Debounces a value: the last one after `ms` without changes. */
function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/**
 * The models of the hub, paginated, filtered, searched and sorted on the
 * server, so that the table stays fast with tens of thousands of models.
 *
 * @public
 */
export function ModelsTable(props: {
  /** Rows per page; default 20. */
  pageSize?: number;
  /** Initial filters. */
  initialFilters?: ModelsTableFilters;
}) {
  const api = useApi(modelHubApiRef);
  const links = useHubLinks();
  const tableRef = useRef<any>();
  // the namespaces for the filter; older backends lack the endpoint
  const namespaces = useAsync(
    () => api.listNamespaces().catch(() => []),
    [api],
  );
  const [filters, setFilters] = useState<ModelsTableFilters>(
    props.initialFilters ?? {},
  );
  const [ownerInput, setOwnerInput] = useState(filters.owner ?? '');
  const [tagInput, setTagInput] = useState(filters.tag ?? '');
  const owner = useDebounced(ownerInput.trim(), 300);
  const tag = useDebounced(tagInput.trim(), 300);
  const [error, setError] = useState<Error>();

  const effective = useMemo(
    () => ({
      ...filters,
      owner: owner || undefined,
      tag: tag || undefined,
    }),
    [filters, owner, tag],
  );
  const filtersRef = useRef(effective);
  filtersRef.current = effective;

  // a filter change reloads the first page
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    tableRef.current?.onQueryChange?.({ page: 0 });
  }, [effective]);

  const columns: TableColumn<HubModelSummary>[] = [
    {
      title: 'Name',
      field: 'name',
      highlight: true,
      render: m => (
        <Box>
          <Link to={links.catalog(m.entityRef)}>{m.title ?? m.name}</Link>
          {m.title && (
            <Typography variant="caption" display="block" color="textSecondary">
              {m.namespace === 'default' ? m.name : `${m.namespace}/${m.name}`}
            </Typography>
          )}
          {m.orphanedAt && (
            <Typography
              variant="caption"
              display="block"
              color="error"
              title="The catalog no longer holds this Model: read-only, an administrator may delete it"
            >
              Removed from the catalog
            </Typography>
          )}
        </Box>
      ),
    },
    { title: 'Type', field: 'type', sorting: false },
    {
      title: 'Owner',
      field: 'owner',
      sorting: false,
      render: m => (
        <Link to={links.catalog(m.owner)}>
          {m.owner.replace(/^group:(default\/)?/, '')}
        </Link>
      ),
    },
    {
      title: 'Source',
      field: 'sourceType',
      sorting: false,
      render: sourceLabel,
    },
    {
      title: 'Active version',
      field: 'activeVersion',
      sorting: false,
      render: m =>
        m.activeVersion ? (
          <Box display="flex" alignItems="center" style={{ gap: 8 }}>
            <span style={{ whiteSpace: 'nowrap' }}>
              {m.activeVersion.label}
            </span>
            <StatePill state={m.activeVersion.state} />
          </Box>
        ) : (
          '–'
        ),
    },
    {
      title: 'Worst state',
      field: 'worstState',
      sorting: false,
      render: m => <WorstState model={m} />,
    },
    {
      title: 'Latest version',
      field: 'latestVersion',
      sorting: false,
      render: m =>
        m.latestVersion ? (
          <Box display="flex" alignItems="center" style={{ gap: 8 }}>
            <span style={{ whiteSpace: 'nowrap' }}>
              {m.latestVersion.label}
            </span>
            <StatePill state={m.latestVersion.state} />
          </Box>
        ) : (
          '–'
        ),
    },
    {
      title: 'Tags',
      field: 'tags',
      sorting: false,
      render: m => (
        <Box display="flex" flexWrap="wrap" style={{ gap: 4 }}>
          {m.tags.slice(0, 4).map(t => (
            <Chip key={t} size="small" label={t} variant="outlined" />
          ))}
        </Box>
      ),
    },
    {
      title: 'Updated',
      field: 'updatedAt',
      render: m => formatTime(m.updatedAt),
    },
  ];

  return (
    <Content>
      <Box
        display="flex"
        flexWrap="wrap"
        style={{ gap: 12 }}
        mb={2}
        role="group"
        aria-label="Filters"
      >
        <SelectFilter
          label="Namespace"
          value={filters.namespace}
          options={[
            ...new Set([
              ...(namespaces.value ?? []).map(n => n.namespace),
              ...(filters.namespace ? [filters.namespace] : []),
            ]),
          ]}
          humanizeOptions={false}
          onChange={namespace => setFilters(f => ({ ...f, namespace }))}
        />
        <SelectFilter
          label="Type"
          value={filters.type}
          options={MODEL_TYPES}
          onChange={type => setFilters(f => ({ ...f, type }))}
        />
        <SelectFilter
          label="State"
          value={filters.state}
          options={VERSION_STATES}
          onChange={state =>
            setFilters(f => ({ ...f, state: state as VersionState }))
          }
        />
        <SelectFilter
          label="Source"
          value={filters.source}
          options={['huggingface', 'upload']}
          onChange={source =>
            setFilters(f => ({ ...f, source: source as SourceType }))
          }
        />
        <TextField
          label="Owner"
          placeholder="group:default/ml-engineers"
          value={ownerInput}
          onChange={e => setOwnerInput(e.target.value)}
          size="small"
          variant="outlined"
          inputProps={{ 'aria-label': 'Owner' }}
        />
        <TextField
          label="Tag"
          value={tagInput}
          onChange={e => setTagInput(e.target.value)}
          size="small"
          variant="outlined"
          inputProps={{ 'aria-label': 'Tag' }}
        />
      </Box>
      {error && <ResponseErrorPanel error={error} />}
      <Table<HubModelSummary>
        tableRef={tableRef}
        title="Models"
        columns={columns}
        options={{
          pageSize: props.pageSize ?? 20,
          pageSizeOptions: [20, 50, 100],
          search: true,
          debounceInterval: 300,
          padding: 'dense',
          emptyRowsWhenPaging: false,
          thirdSortClick: false,
        }}
        localization={{
          body: {
            emptyDataSourceMessage: error
              ? 'The models could not be loaded.'
              : 'No models match.',
          },
        }}
        data={async query => {
          const f = filtersRef.current;
          const sortField = (query.orderBy?.field as string) ?? '';
          try {
            const page = await api.listModels({
              offset: query.page * query.pageSize,
              limit: query.pageSize,
              namespace: f.namespace ? [f.namespace] : undefined,
              q: query.search || undefined,
              type: f.type ? [f.type] : undefined,
              state: f.state ? [f.state] : undefined,
              owner: f.owner ? [f.owner] : undefined,
              source: f.source ? [f.source] : undefined,
              tag: f.tag ? [f.tag] : undefined,
              sort: SORTABLE[sortField],
              order: SORTABLE[sortField]
                ? query.orderDirection || 'asc'
                : undefined,
            });
            setError(undefined);
            return {
              data: page.items,
              page: query.page,
              totalCount: page.totalCount,
            };
          } catch (e) {
            setError(e as Error);
            return { data: [], page: 0, totalCount: 0 };
          }
        }}
      />
    </Content>
  );
}
