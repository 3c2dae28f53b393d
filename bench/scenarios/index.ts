/** Every benchmark scenario, in the order `npm run bench` runs them. Add new ones here. */
import type { Scenario } from '../lib/report.js';
import { daemonScenario } from './daemon.js';
import { emulatorScenario } from './emulator.js';
import { engineScenario } from './engine.js';
import { fleetScenario } from './fleet.js';
import { pressureScenario } from './pressure.js';
import { proxyScenario } from './proxy.js';
import { readerScenario } from './reader.js';
import { scaleScenario } from './scale.js';
import { upstreamScenario } from './upstream.js';

export const SCENARIOS: readonly Scenario[] = [
  emulatorScenario,
  engineScenario,
  daemonScenario,
  scaleScenario,
  upstreamScenario,
  pressureScenario,
  fleetScenario,
  readerScenario,
  proxyScenario,
];
