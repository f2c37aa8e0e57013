import { DataSourcePlugin } from '@grafana/data';
import { ConfigEditor } from './ConfigEditor';
import { WeftDataSource } from './datasource';
import { QueryEditor } from './QueryEditor';
import type { WeftDataSourceOptions, WeftQuery, WeftSecureJsonData } from './types';

export const plugin = new DataSourcePlugin<WeftDataSource, WeftQuery, WeftDataSourceOptions, WeftSecureJsonData>(WeftDataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
