// Task managers: the list (#/taskmanagers) and one task manager's page
// (#/taskmanagers/{id}) with its slots and the job each slot runs.

import {api} from '../api.js';
import {listOf, objectOf} from '../json.js';
import {facts, h, replaceChildren, table} from '../dom.js';
import {formatBytes, formatDuration} from '../format.js';
import {jobLink, routes, taskManagerLink} from './links.js';

const text = (value) => (value === undefined || value === null || value === '' ? '—'
                                                                               : String(value));

export class TaskManagersView {
  constructor() {
    this.element = h('section', {class: 'view', 'data-testid': 'taskmanagers-view'},
                     h('h1', {}, 'Task managers'), h('p', {class: 'muted'}, 'Loading…'));
  }

  async refresh() {
    const managers = listOf((await api.taskManagers()).taskmanagers);
    const rows = managers.map((tm) => {
      const hardware = objectOf(tm.hardware);
      return {
        attributes: {'data-testid': 'taskmanager-row', 'data-taskmanager-id': tm.id},
        cells: [taskManagerLink(tm.id), text(tm.path), text(tm.dataPort), text(tm.slotsNumber),
                text(tm.freeSlots), text(hardware.cpuCores),
                formatBytes(hardware.physicalMemory), formatBytes(objectOf(tm.memory).rss),
                formatDuration(tm.timeSinceLastHeartbeat)],
      };
    });
    replaceChildren(this.element, h('h1', {}, 'Task managers'),
        table([{title: 'ID'}, {title: 'Address'}, {title: 'Data port', numeric: true},
               {title: 'Slots', numeric: true}, {title: 'Free slots', numeric: true},
               {title: 'CPU cores', numeric: true}, {title: 'Physical memory', numeric: true},
               {title: 'Memory (RSS)', numeric: true}, {title: 'Last heartbeat', numeric: true}],
              rows, {'data-testid': 'taskmanagers-table'}, 'No task manager has registered.'));
  }
}

export class TaskManagerView {
  constructor(taskManagerId) {
    this.taskManagerId = taskManagerId;
    this.element = h('section', {class: 'view', 'data-testid': 'taskmanager-view'},
                     h('h1', {}, `Task manager ${taskManagerId}`),
                     h('p', {class: 'muted'}, 'Loading…'));
  }

  async refresh() {
    let tm;
    try {
      tm = await api.taskManager(this.taskManagerId);
    } catch (error) {
      if (error.status !== 404) throw error;
      replaceChildren(this.element, h('h1', {}, 'Task manager not found'),
          h('p', {'data-testid': 'taskmanager-missing'},
            `No task manager ${this.taskManagerId} is registered (it may have left the `,
            'cluster). ', h('a', {href: routes.taskManagers()}, 'See all task managers.')));
      return;
    }
    const hardware = objectOf(tm.hardware);
    const slots = listOf(tm.slots).map((slot) => ({
      attributes: {'data-testid': 'slot-row'},
      cells: [text(slot.index),
              slot.job ? jobLink(slot.job) : h('span', {class: 'muted'}, 'free')],
    }));
    replaceChildren(this.element,
        h('p', {class: 'crumbs'}, h('a', {href: routes.taskManagers()}, 'Task managers'), ' / ',
          text(tm.id ?? this.taskManagerId)),
        h('h1', {}, `Task manager ${text(tm.id ?? this.taskManagerId)}`),
        facts([['Address', text(tm.path)], ['Data port', text(tm.dataPort)],
               ['Slots', `${text(tm.freeSlots)} free of ${text(tm.slotsNumber)}`],
               ['CPU cores', text(hardware.cpuCores)],
               ['Physical memory', formatBytes(hardware.physicalMemory)],
               ['Memory (RSS)', formatBytes(objectOf(tm.memory).rss)],
               ['Last heartbeat', `${formatDuration(tm.timeSinceLastHeartbeat)} ago`]]),
        h('h2', {}, 'Slots'),
        table([{title: 'Slot'}, {title: 'Job'}], slots, {'data-testid': 'slots-table'},
              'This task manager reported no slots.'));
  }
}
