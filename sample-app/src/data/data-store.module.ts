import { Global, Module } from '@nestjs/common';
import { DataStore } from './data-store.js';

@Global()
@Module({ providers: [DataStore], exports: [DataStore] })
export class DataStoreModule {}
