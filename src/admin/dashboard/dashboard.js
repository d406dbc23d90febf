// helsesim's dashboard: everything comes from the control plane's JSON APIs. The DOM is built
// with textContent only (never innerHTML with data), and nothing here logs to the console.
(function () {
  'use strict';

  var TOKEN_KEY = 'helsesim.adminToken';
  var FORMAT_KEY = 'helsesim.configFormat';
  var POLL_MS = 2000;
  var OVERVIEW_EVERY = 3; // polls

  var state = {
    overview: null,
    rendered: {},
    clock: null,
    journalIds: new Map(),
    open: new Set(),
    paused: false,
    locked: false,
    tick: 0,
    timer: null,
    format: 'env',
    patientNames: new Map(),
    userNames: new Map(),
    firstJournal: true,
  };

  // ---------------------------------------------------------------- helpers

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function h(tag, props) {
    var el = document.createElement(tag);
    var attrs = props || {};
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key.indexOf('on') === 0) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { append(el, c); });
    } else if (child instanceof Node) {
      el.appendChild(child);
    } else {
      el.appendChild(document.createTextNode(String(child)));
    }
  }

  // A URL with a line-break opportunity after each slash.
  function breakable(url) {
    var parts = [];
    url.split('/').forEach(function (part, i, all) {
      parts.push(part + (i < all.length - 1 ? '/' : ''));
      if (i < all.length - 1 && all[i + 1] !== '') parts.push(document.createElement('wbr'));
    });
    return parts;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function safeHref(url) {
    return /^https?:\/\//i.test(url || '') ? url : null;
  }

  function storage(kind) {
    try {
      return window[kind];
    } catch (e) {
      return null;
    }
  }

  function getStored(kind, key) {
    var s = storage(kind);
    try {
      return s ? s.getItem(key) : null;
    } catch (e) {
      return null;
    }
  }

  function setStored(kind, key, value) {
    var s = storage(kind);
    try {
      if (!s) return;
      if (value === null) s.removeItem(key);
      else s.setItem(key, value);
    } catch (e) {
      /* storage unavailable: the value lives for this page only */
    }
  }

  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function timeOf(date) {
    return pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds());
  }

  var DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  function dateOf(date) {
    return DAYS[date.getDay()] + ' ' + date.getDate() + ' ' + MONTHS[date.getMonth()] + ' ' + date.getFullYear();
  }

  function duration(seconds) {
    var s = Math.abs(Math.round(seconds));
    var d = Math.floor(s / 86400);
    var hrs = Math.floor((s % 86400) / 3600);
    var min = Math.floor((s % 3600) / 60);
    var parts = [];
    if (d) parts.push(d + ' d');
    if (hrs) parts.push(hrs + ' h');
    if (min || (!d && !hrs)) parts.push(min + ' min');
    return parts.join(' ');
  }

  var FORM = /^[^=&\s]+=[^&\s]*(&[^=&\s]+=[^&\s]*)*$/;

  function decode(part) {
    try {
      return decodeURIComponent(part.replace(/\+/g, ' '));
    } catch (e) {
      return part;
    }
  }

  // JSON indented, a form as one `name = value` line per field, anything else as it is.
  function pretty(text) {
    if (text === null || text === undefined) return null;
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (e) {
      /* not JSON */
    }
    if (FORM.test(text)) {
      return text.split('&').map(function (pair) {
        var i = pair.indexOf('=');
        return decode(pair.slice(0, i)) + ' = ' + decode(pair.slice(i + 1));
      }).join('\n');
    }
    return text;
  }

  function toast(message, bad) {
    var el = h('div', { class: bad ? 'toast bad' : 'toast', role: bad ? 'alert' : 'status', text: message });
    $('#toasts').appendChild(el);
    setTimeout(function () { el.remove(); }, bad ? 6000 : 3000);
  }

  // ---------------------------------------------------------------- the API

  function ApiError(status, slug, message) {
    this.status = status;
    this.slug = slug;
    this.message = message;
  }

  function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    var token = getStored('sessionStorage', TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    var init = { method: method, headers: headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(
      function (response) {
        return response.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          if (response.status === 401) {
            if (token) setStored('sessionStorage', TOKEN_KEY, null);
            lock(token ? 'That token was refused.' : null);
            throw new ApiError(401, 'unauthorized', 'The control plane needs its token');
          }
          if (!response.ok) {
            throw new ApiError(response.status, data && data.error, (data && data.message) || response.statusText);
          }
          return data;
        });
      },
      function () {
        throw new ApiError(0, 'offline', 'helsesim does not answer');
      }
    );
  }

  function failed(error) {
    if (error instanceof ApiError && error.status === 401) return;
    toast(error && error.message ? error.message : 'Something went wrong', true);
  }

  // ---------------------------------------------------------------- copy

  function fallbackCopy(text) {
    var area = h('textarea', { readonly: true, 'aria-hidden': 'true' });
    area.value = text;
    area.style.position = 'fixed';
    area.style.top = '-1000px';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (e) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  function copyButton(text, label, idle) {
    var caption = idle || 'Copy';
    var button = h('button', { type: 'button', class: 'copy', title: 'Copy to the clipboard', 'aria-label': label || caption, text: caption });
    button.addEventListener('click', function (event) {
      event.stopPropagation();
      var done = function (ok) {
        button.textContent = ok ? 'Copied' : 'Select it';
        button.classList.toggle('done', ok);
        setTimeout(function () {
          button.textContent = caption;
          button.classList.remove('done');
        }, 1500);
      };
      try {
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(
            function () { done(true); },
            function () { done(fallbackCopy(text)); }
          );
          return;
        }
      } catch (e) {
        /* fall back below */
      }
      done(fallbackCopy(text));
    });
    return button;
  }

  // ---------------------------------------------------------------- lock / unlock

  function lock(message) {
    state.locked = true;
    $('#app').hidden = true;
    $('#unlock').hidden = false;
    var error = $('#unlock-error');
    error.hidden = !message;
    error.textContent = message || '';
    setLive('off', 'locked');
    $('#unlock-token').focus();
  }

  function unlock(token) {
    setStored('sessionStorage', TOKEN_KEY, token);
    state.locked = false;
    state.rendered = {};
    $('#unlock').hidden = true;
    $('#app').hidden = false;
    refreshAll();
  }

  // ---------------------------------------------------------------- live indicator

  function setLive(kind, text) {
    var live = $('#live');
    live.className = 'live ' + kind;
    $('#live-text').textContent = text;
  }

  // ---------------------------------------------------------------- clock

  function setClock(clock) {
    state.clock = {
      now: Date.parse(clock.now),
      offset: clock.offset_seconds,
      fetched: Date.now(),
      raw: clock.now,
    };
    var el = $('#clock');
    el.setAttribute('data-now', clock.now);
    el.setAttribute('data-offset', String(clock.offset_seconds));
    renderClock();
  }

  function clockNow() {
    if (!state.clock) return null;
    return new Date(state.clock.now + (Date.now() - state.clock.fetched));
  }

  function renderClock() {
    var now = clockNow();
    if (!now) return;
    $('#clock-time').textContent = timeOf(now);
    $('#clock-date').textContent = dateOf(now);
    var offset = $('#clock-offset');
    var seconds = state.clock.offset;
    if (seconds === 0) {
      offset.textContent = 'real time';
      offset.classList.remove('moved');
    } else {
      offset.textContent = (seconds > 0 ? '+' : '−') + duration(seconds) + (seconds > 0 ? ' ahead' : ' behind');
      offset.classList.add('moved');
    }
  }

  function loadClock() {
    return api('GET', '/_admin/clock').then(setClock);
  }

  function moveClock(change, message) {
    return api('POST', '/_admin/clock', change).then(function (clock) {
      setClock(clock);
      toast(message);
      return loadOverview();
    }, failed);
  }

  // ---------------------------------------------------------------- overview

  function changed(key, value) {
    var json = JSON.stringify(value);
    if (state.rendered[key] === json) return false;
    state.rendered[key] = json;
    return true;
  }

  function loadOverview() {
    return api('GET', '/_admin/overview').then(function (overview) {
      state.overview = overview;
      state.patientNames = new Map();
      overview.patients.forEach(function (p) {
        if (p.name) state.patientNames.set(p.key, p.name);
      });
      state.userNames = new Map();
      overview.users.forEach(function (u) { state.userNames.set(u.pid, u.name); });
      if (!state.clock) setClock(overview.clock);
      if (changed('services', [overview.services, overview.tools, state.format])) renderServices(overview);
      if (changed('patients', [overview.patients, Math.floor(Date.parse(overview.clock.now) / 60000)])) renderPatients(overview);
      if (changed('clients', overview.clients)) renderClients(overview.clients);
      if (changed('users', overview.users)) renderUsers(overview.users);
      if (changed('tenants', overview.tenants)) renderTenants(overview.tenants);
      if (changed('settings', [overview.settings, overview.version])) renderSettings(overview);
    });
  }

  function snippetOf(service) {
    return service.config[state.format] || service.config.env;
  }

  // Every service's settings in one file: .env sections with a comment each, or one merged
  // appsettings.json object.
  function combinedSnippet(services) {
    if (state.format === 'appsettings') {
      var merged = {};
      services.forEach(function (service) {
        try {
          var part = JSON.parse(service.config.appsettings);
          Object.keys(part).forEach(function (key) { merged[key] = part[key]; });
        } catch (e) {
          /* a snippet that is not JSON is left out */
        }
      });
      return JSON.stringify(merged, null, 2);
    }
    return services.map(function (service) {
      return '# ' + service.name + ' (replaces ' + service.replaces.join(', ') + ')\n' + service.config.env;
    }).join('\n');
  }

  function renderServices(overview) {
    var list = $('#service-list');
    clear(list);
    overview.services.forEach(function (service) {
      list.appendChild(
        h('article', { class: 'card service svc-' + service.id, 'data-service': service.id },
          h('div', { class: 'service-head' },
            h('h3', { text: service.name }),
            copyButton(snippetOf(service), 'Copy the ' + service.name + ' configuration', 'Copy config')
          ),
          h('span', { class: 'replaces', text: 'replaces ' + service.replaces.map(function (r) { return r.replace(/^https:\/\//, ''); }).join(', ') }),
          h('div', { class: 'url-row' },
            h('code', { class: 'base-url' }, breakable(service.base_url)),
            copyButton(service.base_url, 'Copy the ' + service.name + ' base URL')
          ),
          h('ul', { class: 'endpoints' },
            service.endpoints.map(function (e) {
              var path = e.url.indexOf(service.base_url) === 0 ? e.url.slice(service.base_url.length) || '/' : e.url;
              return h('li', null,
                h('span', { class: 'name', text: e.name }),
                h('span', { class: 'path', title: e.url }, breakable(path)),
                copyButton(e.url, 'Copy the ' + e.name + ' URL')
              );
            })
          ),
          h('p', { class: 'openapi' }, 'OpenAPI: ',
            (service.openapi || []).map(function (doc, i) {
              return h('span', null, i ? ', ' : '',
                h('a', { href: safeHref(doc.url), target: '_blank', rel: 'noopener', text: doc.title }));
            })
          )
        )
      );
    });
    var all = combinedSnippet(overview.services);
    $('#config-snippet').textContent = all;
    var copy = $('#config-copy');
    clear(copy);
    copy.appendChild(copyButton(all, 'Copy the whole configuration', 'Copy all'));
    var tools = $('#tools');
    clear(tools);
    overview.tools.forEach(function (tool) {
      tools.appendChild(h('span', null, tool.name + ' ', h('a', { href: safeHref(tool.url), target: '_blank', rel: 'noopener', text: tool.url })));
    });
  }

  function fact(label, content) {
    return h('div', null, h('dt', { text: label }), h('dd', null, content));
  }

  function renderPatients(overview) {
    var list = $('#patient-list');
    clear(list);
    var shown = $('#patients-shown');
    shown.hidden = overview.patients_total <= overview.patients.length;
    shown.textContent = 'Showing the first ' + overview.patients.length + ' of ' + overview.patients_total +
      ' patients by name; the APIs serve every one.';
    var now = Date.parse(overview.clock.now);
    overview.patients.forEach(function (p) {
      var kj = p.kjernejournal;
      var med = p.medication;
      var medParts = [];
      if (med.active.length) {
        medParts.push(h('div', null,
          h('strong', { text: med.active.length + ' active prescription' + (med.active.length === 1 ? '' : 's') + ': ' }),
          med.active.slice(0, 3).join(', ') + (med.active.length > 3 ? ' and ' + (med.active.length - 3) + ' more' : '')));
      } else if (med.prescriptions) {
        medParts.push(h('div', { text: med.prescriptions + ' prescription' + (med.prescriptions === 1 ? '' : 's') + ', none active' }));
      }
      var chips = [];
      if (med.pll_entries !== null && med.pll_entries !== undefined) chips.push(h('span', { class: 'badge accent', text: 'PLL · ' + med.pll_entries + (med.pll_entries === 1 ? ' entry' : ' entries') }));
      if (med.multidose) chips.push(h('span', { class: 'badge info', text: 'multidose' }));
      if (med.locked) chips.push(h('span', { class: 'badge warn', text: med.locked + ' locked' }));
      if (chips.length) medParts.push(h('div', { class: 'chips' }, chips));

      var flags = [];
      kj.restricted.forEach(function (m) { flags.push(h('span', { class: 'badge warn', text: m + ' restricted' })); });
      if (kj.blocked_professional) flags.push(h('span', { class: 'badge bad', text: 'blocked a professional' }));

      var tickets = p.tickets.map(function (t) {
        var left = Math.max(0, Math.round((Date.parse(t.expires) - now) / 60000));
        return h('div', { class: 'ticket' },
          h('span', { class: 'badge ok', text: left + ' min left' }), ' ',
          (t.user_name || t.user_pid) + ' at ' + t.tenant + ' ',
          h('code', { title: t.ticket, text: t.ticket.slice(0, 8) + '…' }));
      });

      var kjRow = [h('div', { class: 'kjt kjt-' + kj.status, text: kj.text })];
      if (flags.length) kjRow.push(h('div', { class: 'chips' }, flags));

      list.appendChild(
        h('article', { class: 'card patient', 'data-patient': p.key },
          h('div', { class: 'patient-head' },
            h('div', { class: 'who' },
              h('h3', { text: p.name || p.key }),
              h('div', { class: 'id', text: p.key + (p.id_kind === 'other' ? ' · the EHR\'s own id' : ' · ' + p.id_kind) })
            ),
            h('div', { class: 'kj kj-' + kj.status, title: 'Helseindikator status ' + kj.status + ': ' + kj.text },
              h('span', { class: 'kj-dot', 'aria-label': 'Kjernejournal status ' + kj.status, text: String(kj.status) })
            )
          ),
          p.description ? expandable(p.description) : null,
          h('dl', { class: 'facts' },
            fact('Kjernejournal', kjRow),
            medParts.length ? fact('Medication', medParts) : fact('Medication', h('span', { class: 'muted', text: 'none' })),
            p.allergies.length ? fact('Allergies', h('div', { class: 'chips' }, p.allergies.map(function (a) {
              return h('span', { class: a.criticality === 'high' ? 'badge bad' : 'badge', text: a.substance + (a.criticality ? ' · ' + a.criticality : '') });
            }))) : null,
            p.records.length ? fact('SFM', p.records.map(function (r) { return r.tenant; }).join(', ')) : null,
            tickets.length ? fact('Tickets', tickets) : null,
            p.messages ? fact('Messages', p.messages + ' sent by SFM') : null
          )
        )
      );
    });
  }

  function renderClients(clients) {
    var body = $('#client-table tbody');
    clear(body);
    clients.forEach(function (c) {
      var org = c.tenancy === 'multi-tenant'
        ? 'supplier ' + (c.orgnr_supplier || '–')
        : (c.orgnr_parent || '–') + (c.orgnr_child ? ':' + c.orgnr_child : '');
      body.appendChild(
        h('tr', { 'data-client': c.client_id },
          h('td', null,
            h('div', { class: 'cname' }, c.name || c.client_id, c.require_dpop ? [' ', h('span', { class: 'badge warn', text: 'DPoP' })] : null),
            h('div', { class: 'cid', text: c.client_id }),
            h('div', { class: 'chips' }, c.apis.map(function (a) { return h('span', { class: 'badge', text: a }); }))
          ),
          h('td', null,
            h('div', { text: c.tenancy }),
            h('div', { class: 'cid', text: org }),
            c.sfm_id ? h('div', { class: 'cid', title: 'sfm-id', text: 'sfm-id ' + c.sfm_id }) : null
          ),
          h('td', null,
            h('div', { class: 'commands' }, c.token_commands.length ? c.token_commands.map(function (t) {
              var line = function (text, title) {
                return text ? h('div', { class: 'line' }, h('code', { text: text }), copyButton(text, title)) : null;
              };
              return h('div', { class: 'command' },
                h('span', { class: 'label', text: t.label }),
                line(t.setup, 'Copy: make the DPoP key'),
                line(t.command, 'Copy the command'),
                line(t.proof, 'Copy: a DPoP proof for the call')
              );
            }) : h('span', { class: 'muted', text: 'no API scopes' }))
          )
        )
      );
    });
  }

  function renderUsers(users) {
    var body = $('#user-table tbody');
    clear(body);
    users.forEach(function (u) {
      body.appendChild(
        h('tr', { 'data-user': u.pid },
          h('td', null, h('div', { class: 'cname', text: u.name }), u.description ? h('div', { class: 'small muted', text: u.description }) : null),
          h('td', { 'data-label': 'pid' }, h('code', { text: u.pid }), ' ', h('span', { class: 'small muted', text: u.pid_kind })),
          h('td', { 'data-label': 'HPR' }, u.hpr_number ? h('code', { text: u.hpr_number }) : h('span', { class: 'muted', text: '–' })),
          h('td', { class: 'level', 'data-label': 'Level' }, h('span', { text: u.security_level }))
        )
      );
    });
  }

  function renderTenants(tenants) {
    var body = $('#instance-table tbody');
    clear(body);
    tenants.forEach(function (t) {
      var badges = [];
      badges.push(h('span', { class: t.active ? 'badge ok' : 'badge', text: t.active ? 'active' : 'inactive' }));
      if (t.multidose_doctor) badges.push(h('span', { class: 'badge info', text: 'multidose doctor' }));
      if (!t.kjernejournal_access) badges.push(h('span', { class: 'badge warn', text: 'no kjernejournal' }));
      body.appendChild(
        h('tr', null,
          h('td', null,
            h('div', { class: 'cname', text: t.name }),
            h('div', { class: 'cid', text: (t.orgnr ? 'orgnr ' + t.orgnr + ' · ' : '') + t.sfm_id }),
            h('div', { class: 'chips' }, badges)
          ),
          h('td', { 'data-label': 'Users' }, h('span', { text: String(t.users) })),
          h('td', { 'data-label': 'Patients' }, h('span', { text: String(t.patients) })),
          h('td', { 'data-label': 'Tickets' }, h('span', { text: String(t.tickets) }))
        )
      );
    });
  }

  function renderSettings(overview) {
    var s = overview.settings;
    $('#settings').textContent = 'helsesim ' + overview.version +
      ' · control plane ' + (s.admin_token ? 'behind a token' : 'open') +
      ' · journal keeps ' + s.journal_size +
      ' · autologin ' + (s.autologin ? 'on' : 'off') +
      ' · kjernejournal extra field ' + (s.kj_extra_field ? 'on' : 'off');
  }

  // ---------------------------------------------------------------- journal

  function statusClass(status) {
    return 's' + Math.floor(status / 100);
  }

  // A description shown in three lines, whole on a click (or Enter).
  function expandable(text) {
    var el = h('p', { class: 'description', tabindex: '0', role: 'button', 'aria-expanded': 'false', title: 'Show all', text: text });
    var toggle = function () {
      var open = el.classList.toggle('expanded');
      el.setAttribute('aria-expanded', open ? 'true' : 'false');
    };
    el.addEventListener('click', toggle);
    el.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        toggle();
      }
    });
    return el;
  }

  function journalRow(entry) {
    var when = new Date(Date.parse(entry.time));
    var row = h('tr', { class: 'req', tabindex: '0', 'data-id': String(entry.id), 'aria-expanded': 'false' },
      h('td', { class: 'c-time', title: entry.time, text: timeOf(when) }),
      h('td', { class: 'c-service' }, h('span', { class: 'svc svc-' + entry.service, text: entry.service })),
      h('td', { class: 'c-method', text: entry.method }),
      h('td', { class: 'c-path', title: entry.path, text: entry.path }),
      h('td', { class: 'c-status' }, h('span', { class: 'status ' + statusClass(entry.status), text: entry.status ? String(entry.status) : '—' })),
      h('td', { class: 'c-latency', text: (entry.latency_ms < 10 ? entry.latency_ms.toFixed(1) : Math.round(entry.latency_ms)) + ' ms' })
    );
    var toggle = function () { toggleDetail(row, entry); };
    row.addEventListener('click', toggle);
    row.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        toggle();
      }
    });
    return row;
  }

  function toggleDetail(row, entry) {
    var next = row.nextElementSibling;
    if (next && next.classList.contains('detail')) {
      next.remove();
      row.classList.remove('open');
      row.setAttribute('aria-expanded', 'false');
      state.open.delete(entry.id);
      return;
    }
    state.open.add(entry.id);
    row.classList.add('open');
    row.setAttribute('aria-expanded', 'true');
    var body = function (title, text) {
      return h('div', null, h('h4', { text: title }), h('pre', { text: text === null ? '(no body)' : text }));
    };
    row.after(
      h('tr', { class: 'detail' },
        h('td', { colspan: '6' },
          h('div', { class: 'detail-meta' },
            h('span', null, '#' + entry.id),
            h('span', null, entry.time),
            h('code', { text: entry.method + ' ' + entry.path })
          ),
          entry.reason ? h('p', { class: 'reason', text: 'Why: ' + entry.reason }) : null,
          entry.token ? h('div', { class: 'token' }, h('h4', { text: 'The token (decoded)' }),
            h('pre', { text: JSON.stringify(entry.token, null, 2) })) : null,
          h('div', { class: 'bodies' },
            body('Request body', pretty(entry.request_body)),
            body('Response body', pretty(entry.response_body))
          )
        )
      )
    );
  }

  function journalQuery() {
    var service = $('#journal-service').value;
    return '/_admin/requests?limit=100' + (service ? '&service=' + encodeURIComponent(service) : '');
  }

  function loadJournal() {
    if (state.paused) return Promise.resolve();
    return api('GET', journalQuery()).then(renderJournal);
  }

  function renderJournal(data) {
    var rows = $('#journal-rows');
    var entries = data.requests;
    var keep = new Set(entries.map(function (e) { return e.id; }));
    state.journalIds.forEach(function (row, id) {
      if (!keep.has(id)) {
        var next = row.nextElementSibling;
        if (next && next.classList.contains('detail')) next.remove();
        row.remove();
        state.journalIds.delete(id);
        state.open.delete(id);
      }
    });
    // Newest first: insert the new ones, oldest of them first, at the top.
    for (var i = entries.length - 1; i >= 0; i--) {
      var entry = entries[i];
      if (state.journalIds.has(entry.id)) continue;
      var row = journalRow(entry);
      if (!state.firstJournal) row.classList.add('new');
      rows.insertBefore(row, rows.firstChild);
      state.journalIds.set(entry.id, row);
    }
    state.firstJournal = false;
    $('#journal-empty').hidden = entries.length > 0;
  }

  function resetJournal() {
    clear($('#journal-rows'));
    state.journalIds = new Map();
    state.open = new Set();
    state.firstJournal = true;
  }

  // ---------------------------------------------------------------- SFM messages

  function loadMessages() {
    return api('GET', '/_admin/sfm/messages').then(function (data) {
      if (!changed('messages', [data.messages, state.patientNames.size])) return;
      var list = $('#message-list');
      clear(list);
      var messages = data.messages.slice().reverse().slice(0, 50);
      messages.forEach(function (m) {
        var when = new Date(Date.parse(m.sent));
        var who = state.patientNames.get(m.patient) || m.patient;
        var detail = [];
        if (m.resept_id) detail.push('ReseptId ' + m.resept_id);
        if (m.refnum) detail.push('ref ' + m.refnum);
        if (m.recall_code) detail.push('reason ' + m.recall_code);
        detail.push('by ' + (state.userNames.get(m.sender_pid) || m.sender_pid));
        list.appendChild(
          h('li', { 'data-message': m.id },
            h('span', { class: 'mtype ' + m.type.replace('.', '-'), text: m.type }),
            h('span', { text: who }),
            h('span', { class: 'mwhen', title: m.sent, text: timeOf(when) }),
            h('span', { class: 'mdetail', text: detail.join(' · ') })
          )
        );
      });
      $('#messages-empty').hidden = data.messages.length > 0;
      $('#messages-count').textContent = data.messages.length ? String(data.messages.length) : '';
    });
  }

  // ---------------------------------------------------------------- faults

  function faultSummary(f) {
    if (f.drop_connection) return 'drop';
    if (f.status) return String(f.status) + (f.delay_ms ? ' after ' + f.delay_ms + ' ms' : '');
    if (f.delay_ms) return '+' + f.delay_ms + ' ms';
    return '?';
  }

  function loadFaults() {
    return api('GET', '/_admin/faults').then(function (data) {
      if (!changed('faults', data.faults)) return;
      var list = $('#fault-list');
      clear(list);
      data.faults.forEach(function (f) {
        var scope = [f.service || 'any service'];
        if (f.probability !== undefined && f.probability !== null) scope.push(Math.round(f.probability * 100) + '%');
        scope.push(f.hits + ' hit' + (f.hits === 1 ? '' : 's'));
        if (f.remaining !== null && f.remaining !== undefined) scope.push(f.remaining + ' left');
        list.appendChild(
          h('li', { 'data-fault': f.id },
            h('span', { class: 'status ' + (f.status ? statusClass(f.status) : 's0'), text: faultSummary(f) }),
            h('div', { class: 'fault-what' },
              h('code', { text: (f.method || '*') + ' ' + f.path }),
              h('span', { class: 'small muted', text: scope.join(' · ') })
            ),
            h('button', {
              type: 'button', class: 'icon', title: 'Remove this rule', 'aria-label': 'Remove this fault rule', text: '×',
              onclick: function () {
                api('DELETE', '/_admin/faults/' + encodeURIComponent(f.id)).then(function () {
                  toast('Fault rule removed');
                  return loadFaults();
                }, failed);
              },
            })
          )
        );
      });
      $('#faults-empty').hidden = data.faults.length > 0;
      $('#faults-clear').hidden = data.faults.length === 0;
    });
  }

  function addFault(event) {
    event.preventDefault();
    var form = event.target;
    var value = function (name) { return form.elements[name].value.trim(); };
    var rule = { path: value('path') };
    if (value('service')) rule.service = value('service');
    if (value('method')) rule.method = value('method');
    var mode = value('mode');
    if (mode === 'status') rule.status = Number(value('status'));
    if (mode === 'delay') rule.delay_ms = Number(value('delay_ms'));
    if (mode === 'drop') rule.drop_connection = true;
    if (value('times')) rule.times = Number(value('times'));
    api('POST', '/_admin/faults', rule).then(function () {
      toast('Fault rule added: ' + (rule.method || '*') + ' ' + rule.path);
      return loadFaults();
    }, failed);
  }

  // ---------------------------------------------------------------- scenarios

  function stepSummary(step) {
    var what = step.kind.replace(/_/g, ' ');
    var detail = step.patient || step.prescription || step.path || '';
    return detail ? what + ' · ' + detail : what;
  }

  function runPreset(preset) {
    api('POST', '/_admin/scenarios/' + encodeURIComponent(preset.name)).then(function (answer) {
      toast('Scenario “' + preset.title + '”: ' + answer.applied.length + ' step' + (answer.applied.length === 1 ? '' : 's') + ' applied');
      state.rendered = {};
      return Promise.all([loadScenarios(), loadFaults(), loadOverview()]);
    }, failed);
  }

  function loadScenarios() {
    return api('GET', '/_admin/scenarios').then(function (data) {
      if (!changed('scenarios', data)) return;
      var presets = $('#preset-list');
      clear(presets);
      data.presets.forEach(function (preset) {
        presets.appendChild(
          h('li', { 'data-preset': preset.name },
            h('div', { class: 'preset-what' },
              h('strong', { text: preset.title }),
              h('span', { class: 'small muted', text: preset.description })
            ),
            h('button', { type: 'button', class: 'ghost small', text: 'Run', title: 'POST /_admin/scenarios/' + preset.name, onclick: function () { runPreset(preset); } })
          )
        );
      });
      $('#presets-empty').hidden = data.presets.length > 0;
      var applied = $('#applied-list');
      clear(applied);
      data.applied.slice(0, 8).forEach(function (entry) {
        applied.appendChild(
          h('li', {},
            h('span', { class: 'mtime', title: entry.time, text: timeOf(new Date(entry.time)) }),
            h('code', { text: stepSummary(entry.step) }),
            entry.preset ? h('span', { class: 'small muted', text: entry.preset }) : null
          )
        );
      });
      $('#applied-empty').hidden = data.applied.length > 0;
      // Fault rules, domain failures and planned key rotations end with "End failures"; the
      // keys HelseID publishes are shown, not ended.
      var keys = data.active.helseid_keys || {};
      var active = (data.active.faults || []).length > 0 || (data.active.failures || []).length > 0 ||
        (!!keys.planned && ((keys.planned.phases || []).length > 0 || !!keys.planned.every_seconds));
      $('#scenarios-clear').hidden = !active;
    });
  }

  // ---------------------------------------------------------------- advice

  function loadAdvice() {
    return api('GET', '/_admin/advice').then(function (data) {
      if (!changed('advice', data.findings)) return;
      var list = $('#advice-list');
      clear(list);
      data.findings.forEach(function (f) {
        var who = [f.client_id || 'any client'];
        if (f.organisation) who.push('org ' + f.organisation);
        who.push(f.count + ' time' + (f.count === 1 ? '' : 's'));
        var evidence = h('ul', { class: 'advice-evidence small' });
        f.evidence.forEach(function (e) {
          evidence.appendChild(h('li', {},
            h('code', { text: '#' + e.request + ' ' + e.method + ' ' + e.path }),
            h('span', { class: 'muted', text: ' ' + e.detail })));
        });
        list.appendChild(
          h('li', { 'data-rule': f.rule, class: 'advice-' + f.severity },
            h('span', { class: 'severity ' + f.severity, text: f.severity }),
            h('div', { class: 'advice-what' },
              h('strong', { text: f.title }),
              h('span', { class: 'small muted', text: f.rule + ' · ' + who.join(' · ') }),
              evidence,
              h('span', { class: 'small', text: 'Fix: ' + f.fix }),
              h('a', { class: 'small', href: f.source.url, target: '_blank', rel: 'noopener', text: f.source.title })
            )
          )
        );
      });
      $('#advice-empty').hidden = data.findings.length > 0;
      $('#advice-clear').hidden = data.findings.length === 0;
      $('#advice-count').textContent = data.findings.length ? String(data.findings.length) : '';
    });
  }

  // ---------------------------------------------------------------- polling

  function poll() {
    clearTimeout(state.timer);
    if (document.hidden || state.locked) {
      if (!state.locked) setLive('paused', 'paused');
      return;
    }
    var work = [loadClock(), loadJournal(), loadMessages(), loadFaults(), loadScenarios(), loadAdvice()];
    if (state.tick % OVERVIEW_EVERY === 0) work.push(loadOverview());
    state.tick++;
    Promise.all(work).then(
      function () { setLive(state.paused ? 'paused' : 'on', state.paused ? 'journal paused' : 'live'); },
      function (error) {
        if (!(error instanceof ApiError && error.status === 401)) setLive('off', error && error.status === 0 ? 'offline' : 'error');
      }
    ).then(function () {
      if (!state.locked) state.timer = setTimeout(poll, POLL_MS);
    });
  }

  function refreshAll() {
    state.tick = 0;
    poll();
  }

  // ---------------------------------------------------------------- wiring

  // Downloads the state document as helsesim-state-<clock time>.json.
  function saveState() {
    api('GET', '/_admin/state').then(function (document_) {
      var blob = new Blob([JSON.stringify(document_, null, 2) + '\n'], { type: 'application/json' });
      var link = h('a', { href: URL.createObjectURL(blob) });
      var stamp = (document_.exported_at || '').replace(/[:.]/g, '-').slice(0, 19);
      link.download = 'helsesim-state-' + stamp + '.json';
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
      toast('State saved to ' + link.download);
    }, failed);
  }

  // Replaces the whole state with a chosen document (helsesim validates it all first).
  function loadState(event) {
    var file = event.target.files && event.target.files[0];
    event.target.value = '';
    if (!file) return;
    file.text().then(function (text) {
      var document_;
      try {
        document_ = JSON.parse(text);
      } catch (e) {
        throw new ApiError(400, 'invalid_state', file.name + ' is not JSON');
      }
      return api('PUT', '/_admin/state', document_);
    }).then(function (answer) {
      toast('State loaded from ' + file.name + ' (' + answer.sfm_tenants + ' SFM instances, ' + answer.national_patients + ' patients)');
      state.rendered = {};
      return Promise.all([loadOverview(), loadClock()]).then(loadMessages);
    }).catch(failed);
  }

  function arm(button, idle, armed, action) {
    var timer = null;
    button.addEventListener('click', function () {
      if (!button.classList.contains('armed')) {
        button.classList.add('armed');
        button.textContent = armed;
        timer = setTimeout(function () {
          button.classList.remove('armed');
          button.textContent = idle;
        }, 4000);
        return;
      }
      clearTimeout(timer);
      button.classList.remove('armed');
      button.textContent = idle;
      action();
    });
  }

  function setFormat(format) {
    state.format = format === 'appsettings' ? 'appsettings' : 'env';
    setStored('localStorage', FORMAT_KEY, state.format);
    Array.prototype.forEach.call(document.querySelectorAll('#config-format button'), function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-format') === state.format));
    });
    if (state.overview && changed('services', [state.overview.services, state.overview.tools, state.format])) {
      renderServices(state.overview);
    }
  }

  function wire() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-advance]'), function (button) {
      button.addEventListener('click', function () {
        moveClock({ advance: button.getAttribute('data-advance') }, 'Clock advanced ' + button.textContent.trim());
      });
    });
    $('#clock-reset').addEventListener('click', function () {
      moveClock({ reset: true }, 'Clock back to the real time');
    });
    arm($('#reset'), 'Reset state', 'Click to confirm', function () {
      api('POST', '/_admin/reset').then(function (answer) {
        toast('Every service is back to the fixtures (' + answer.took_ms + ' ms)');
        state.rendered = {};
        return loadOverview().then(loadMessages);
      }, failed);
    });
    $('#state-save').addEventListener('click', saveState);
    $('#state-load').addEventListener('change', loadState);
    $('#journal-service').addEventListener('change', function () {
      resetJournal();
      loadJournal().catch(failed);
    });
    $('#journal-pause').addEventListener('click', function (event) {
      state.paused = !state.paused;
      event.target.textContent = state.paused ? 'Resume' : 'Pause';
      event.target.setAttribute('aria-pressed', String(state.paused));
      setLive(state.paused ? 'paused' : 'on', state.paused ? 'journal paused' : 'live');
      if (!state.paused) loadJournal().catch(failed);
    });
    $('#journal-clear').addEventListener('click', function () {
      api('DELETE', '/_admin/requests').then(function () {
        resetJournal();
        $('#journal-empty').hidden = false;
      }, failed);
    });
    $('#advice-clear').addEventListener('click', function () {
      api('DELETE', '/_admin/advice').then(function () {
        toast('Every finding forgotten');
        return loadAdvice();
      }, failed);
    });
    $('#faults-clear').addEventListener('click', function () {
      api('DELETE', '/_admin/faults').then(function () {
        toast('Every fault rule removed');
        return loadFaults();
      }, failed);
    });
    $('#scenarios-clear').addEventListener('click', function () {
      api('DELETE', '/_admin/scenarios').then(function () {
        toast('Every scenario failure ended');
        return Promise.all([loadScenarios(), loadFaults()]);
      }, failed);
    });
    var faultForm = $('#fault-form');
    faultForm.setAttribute('data-mode', 'status');
    faultForm.elements.mode.addEventListener('change', function (event) {
      faultForm.setAttribute('data-mode', event.target.value);
    });
    faultForm.addEventListener('submit', addFault);
    Array.prototype.forEach.call(document.querySelectorAll('#config-format button'), function (b) {
      b.addEventListener('click', function () { setFormat(b.getAttribute('data-format')); });
    });
    $('#unlock-form').addEventListener('submit', function (event) {
      event.preventDefault();
      var token = $('#unlock-token').value.trim();
      if (token) unlock(token);
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) refreshAll();
    });
    setInterval(renderClock, 1000);
  }

  wire();
  setFormat(getStored('localStorage', FORMAT_KEY) || 'env');
  if (document.body.getAttribute('data-admin-token') === 'required' && !getStored('sessionStorage', TOKEN_KEY)) {
    lock(null);
  } else {
    refreshAll();
  }
})();
