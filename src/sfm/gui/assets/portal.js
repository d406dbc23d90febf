// helsesim's stand-in for SFM's GUI (the client). The EHR opens a portal in an iframe with no
// query parameters; everything else is postMessage, as NHN documents it ("Integrating with the
// SFM client"; SFM.tools' micro-EPJ; WebEPJSampleApp):
//   SFM -> EHR  {clientLoaded: "success"}
//   EHR -> SFM  {action: "login", code, nonce, apiEndpoint}
//   SFM -> EHR  {login: "success"}
//   EHR -> SFM  {action: "setPatient", ticket, showAllergies, onBehalfOf}  (other members ignored)
//   SFM -> EHR  {setPatient: "success"}
// Stricter than NHN's samples (which post to "*" and accept any sender): this page posts only
// to its parent's origin and accepts messages only from window.parent at that origin.
(function () {
  'use strict';

  var portal = document.body.getAttribute('data-portal');
  var parentOrigin = null;
  var apiBase = null;
  var token = null;
  var current = null; // the latest view of the open patient
  var ticket = null;
  var busy = false;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') {
        node.textContent = attrs[key];
      } else if (key.indexOf('on') === 0) {
        node.addEventListener(key.slice(2), attrs[key]);
      } else {
        node.setAttribute(key, attrs[key]);
      }
    });
    (children || []).forEach(function (child) {
      if (child) {
        node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function setState(text) {
    byId('state').textContent = text;
  }

  // The origin of the page embedding this one: the EHR.
  function embeddingOrigin() {
    if (window.parent === window) {
      return null;
    }
    if (window.location.ancestorOrigins && window.location.ancestorOrigins.length > 0) {
      return window.location.ancestorOrigins[0];
    }
    try {
      return new URL(document.referrer).origin;
    } catch (e) {
      return null;
    }
  }

  function post(message) {
    window.parent.postMessage(message, parentOrigin);
  }

  function hideNotices() {
    byId('error').hidden = true;
    byId('notice').hidden = true;
  }

  function showNotice(text) {
    var notice = byId('notice');
    notice.textContent = text;
    notice.hidden = false;
  }

  // An error as the real client shows it: the message, a "Feil ID" (trace id), when, the
  // failed call, and a button copying all of it to the clipboard.
  function showError(message, details) {
    details = details || {};
    var when = new Date().toISOString();
    var lines = ['Feil: ' + message, 'Tidspunkt: ' + when];
    if (details.traceId) {
      lines.push('Feil ID: ' + details.traceId);
    }
    if (details.status) {
      lines.push('HTTP ' + details.status + ' ' + (details.method || 'POST') + ' ' + details.url);
    }
    var text = lines.join('\n');
    var copied = el('span', {class: 'copied', 'aria-live': 'polite'});
    var box = byId('error');
    byId('notice').hidden = true;
    box.replaceChildren(
      el('h2', {text: 'Det oppstod en feil'}),
      el('p', {class: 'message', text: message}),
      details.traceId ? el('p', {class: 'trace'}, ['Feil ID: ', el('code', {text: details.traceId})]) : null,
      el('p', {class: 'when', text: 'Tidspunkt: ' + when}),
      details.status ? el('p', {class: 'call', text: 'HTTP ' + details.status + ' ' + details.url}) : null,
      el('textarea', {class: 'copy-source', readonly: 'readonly', 'aria-hidden': 'true', text: text}),
      el('button', {type: 'button', class: 'copy', onclick: function () {
        copyText(text, box.querySelector('.copy-source')).then(function () {
          copied.textContent = 'Kopiert til utklippstavlen';
        });
      }}, ['Kopier feilmeldingen']),
      copied
    );
    box.hidden = false;
  }

  function copyText(text, source) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(source);
      });
    }
    return fallbackCopy(source);
  }

  function fallbackCopy(source) {
    source.select();
    document.execCommand('copy');
    return Promise.resolve();
  }

  // A call to the portal's server API; rejects with {message, traceId, status, url}.
  function call(path, body) {
    var url = new URL(path, apiBase).toString();
    var headers = {'Content-Type': 'application/json'};
    if (token) {
      headers.Authorization = 'Bearer ' + token;
    }
    return fetch(url, {method: 'POST', headers: headers, body: JSON.stringify(body || {})})
      .then(function (response) {
        return response.text().then(function (text) {
          var json = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch (e) {
            json = null;
          }
          if (!response.ok) {
            throw {
              message: (json && (json.detail || json.title)) || ('HTTP ' + response.status),
              traceId: json && json.traceId,
              status: response.status,
              url: url
            };
          }
          return json;
        });
      }, function (e) {
        throw {message: 'SFMs server svarer ikke (' + e.message + ')', url: url};
      });
  }

  function fail(error) {
    busy = false;
    showError(error.message || String(error), error);
  }

  function login(message) {
    if (typeof message.code !== 'string' || typeof message.nonce !== 'string' ||
        typeof message.apiEndpoint !== 'string') {
      showError('Innloggingsmeldingen mangler code, nonce eller apiEndpoint');
      return;
    }
    try {
      apiBase = new URL(message.apiEndpoint.replace(/\/?$/, '/')).toString();
    } catch (e) {
      showError('apiEndpoint er ikke en URL: ' + message.apiEndpoint);
      return;
    }
    token = null;
    setState('Logger inn …');
    call('api/login', {code: message.code, nonce: message.nonce, origin: parentOrigin, portal: portal})
      .then(function (answer) {
        token = answer.token;
        hideNotices();
        byId('who').textContent = answer.user.name + ' · ' + answer.organisation.name;
        loggedIn(answer);
        post({login: 'success'});
      }, function (error) {
        setState('Innloggingen feilet.');
        fail(error);
      });
  }

  function loggedIn(answer) {
    if (portal === 'patient' || portal === 'display') {
      setState('Innlogget som ' + answer.user.name + '. Venter på pasient fra journalsystemet …');
      return;
    }
    byId('welcome').hidden = true;
    var content = byId('content');
    if (portal === 'health-personnel') {
      content.replaceChildren(
        el('h1', {text: 'Helsepersonellportal'}),
        el('p', {text: 'Arbeid uten pasient: rapporter, maler og lokale legemidler.'}),
        el('p', {class: 'muted', text: 'Ingen oppgaver venter på ' + answer.user.name + '.'})
      );
    } else {
      content.replaceChildren(
        el('h1', {text: 'Virksomhetsportal'}),
        el('p', {text: 'Virksomhet: ' + answer.organisation.name}),
        el('p', {class: 'muted', text: 'Administrasjon av brukere og oppsett for virksomheten.'})
      );
    }
  }

  function truthy(value) {
    return value === true || value === 'true';
  }

  function setPatient(message) {
    if (!token) {
      showError('setPatient før innlogging: journalsystemet må sende login først');
      return;
    }
    if (typeof message.ticket !== 'string' || message.ticket === '') {
      showError('setPatient mangler ticket (pasientbilletten fra PatientTicket)');
      return;
    }
    var body = {
      ticket: message.ticket,
      showAllergies: message.showAllergies === undefined ? false : message.showAllergies,
      onBehalfOf: message.onBehalfOf
    };
    setState('Henter pasienten …');
    call('api/patient', body).then(function (view) {
      ticket = message.ticket;
      hideNotices();
      render(view);
      post({setPatient: 'success'});
    }, function (error) {
      if (!current) {
        setState('Pasienten kunne ikke åpnes.');
      }
      fail(error);
    });
  }

  function act(path, body) {
    if (busy) {
      return;
    }
    busy = true;
    hideNotices();
    call(path, body).then(function (view) {
      busy = false;
      render(view);
      if (view.result) {
        showNotice(view.result.message);
      }
    }, fail);
  }

  function statusText(row) {
    var parts = [];
    if (row.rfStatus) {
      parts.push(row.rfStatus.display || row.rfStatus.code);
    }
    if (row.recallPending) {
      parts.push('tilbakekalling venter');
    }
    if (row.status && row.status !== 'active') {
      parts.push(row.status);
    }
    return parts.join(', ') || 'uten resept';
  }

  function medicationTable(view) {
    var actions = portal === 'patient';
    var head = ['Legemiddel', 'Dosering', 'Status i RF', 'I PLL', 'ReseptId'];
    if (actions) {
      head.push('');
    }
    var rows = view.medication.map(function (row) {
      var cells = [
        el('td', {class: 'name', text: row.name}),
        el('td', {text: row.dosage || ''}),
        el('td', {text: statusText(row)}),
        el('td', {text: row.inPll ? 'Ja' : ''}),
        el('td', {class: 'id', text: row.reseptId ? row.reseptId.slice(0, 8) + '…' : ''})
      ];
      if (actions) {
        cells.push(el('td', {class: 'actions'}, [
          row.canRenew ? el('button', {type: 'button', class: 'renew', 'data-resept': row.reseptId,
            onclick: function () { act('api/prescriptions/' + encodeURIComponent(row.reseptId) + '/renew'); }},
            ['Forny']) : null,
          row.canStop ? el('button', {type: 'button', class: 'stop secondary', 'data-resept': row.reseptId,
            onclick: function () { act('api/prescriptions/' + encodeURIComponent(row.reseptId) + '/stop'); }},
            ['Seponer']) : null
        ]));
      }
      return el('tr', {'data-resept': row.reseptId || '', 'data-name': row.name}, cells);
    });
    if (rows.length === 0) {
      rows.push(el('tr', {}, [el('td', {colspan: String(head.length), class: 'muted',
        text: 'Ingen legemidler i bruk'})]));
    }
    return el('table', {id: 'lib'}, [
      el('thead', {}, [el('tr', {}, head.map(function (h) { return el('th', {text: h}); }))]),
      el('tbody', {}, rows)
    ]);
  }

  function prescribeForm() {
    var name = el('input', {type: 'text', name: 'name', required: 'required', placeholder: 'Paracet tab 500 mg'});
    var dosage = el('input', {type: 'text', name: 'dosage', required: 'required', placeholder: '1 tablett 3 ganger daglig'});
    return el('form', {id: 'prescribe', onsubmit: function (event) {
      event.preventDefault();
      act('api/prescriptions', {name: name.value, dosage: dosage.value});
    }}, [
      el('h2', {text: 'Ny resept'}),
      el('label', {}, ['Legemiddel ', name]),
      el('label', {}, ['Dosering ', dosage]),
      el('button', {type: 'submit'}, ['Send resept (M1)'])
    ]);
  }

  function pllSection(view) {
    var text = view.pll
      ? 'Siste PLL (M25.1) ' + (view.pll.date || '') + (view.pll.author ? ', av ' + view.pll.author : '')
      : 'Pasienten har ingen PLL.';
    return el('section', {id: 'pll'}, [
      el('h2', {text: 'Pasientens legemiddelliste (PLL)'}),
      el('p', {text: text}),
      portal === 'patient'
        ? el('button', {type: 'button', id: 'send-pll', onclick: function () { act('api/pll'); }},
          ['Send PLL (M25.1)'])
        : null
    ]);
  }

  function allergySection(view) {
    if (!view.showAllergies) {
      return null;
    }
    var items = (view.allergies || []).map(function (a) {
      return el('li', {text: a.substance + (a.reaction ? ' – ' + a.reaction : '') +
        (a.criticality === 'high' ? ' (høy kritikalitet)' : '')});
    });
    return el('section', {id: 'allergies'}, [
      el('h2', {text: 'Legemiddelreaksjoner og allergier (Kjernejournal)'}),
      items.length ? el('ul', {}, items) : el('p', {class: 'muted', text: 'Ingen registrert'})
    ]);
  }

  function render(view) {
    current = view;
    byId('welcome').hidden = true;
    var patient = view.patient;
    var header = el('div', {id: 'patient', class: 'patient'}, [
      el('span', {class: 'name', text: patient.name || '(uten navn)'}),
      el('span', {class: 'pid', text: patient.pid || ''}),
      patient.birthDate ? el('span', {class: 'born', text: 'f. ' + patient.birthDate}) : null,
      portal === 'patient'
        ? el('button', {type: 'button', class: 'secondary reload', onclick: function () {
          setPatient({ticket: ticket, showAllergies: view.showAllergies});
        }}, ['Hent på nytt']) : null
    ]);
    var parts = [header, el('h2', {text: 'Legemidler i bruk (LIB)'}), medicationTable(view)];
    if (portal === 'patient') {
      parts.push(pllSection(view), allergySection(view), prescribeForm());
    } else {
      parts.push(allergySection(view));
    }
    byId('content').replaceChildren.apply(byId('content'), parts.filter(Boolean));
  }

  function onMessage(event) {
    // Only the embedding EHR may drive the portal.
    if (event.source !== window.parent || event.origin !== parentOrigin) {
      return;
    }
    var message = event.data;
    if (!message || typeof message !== 'object') {
      return;
    }
    if (message.action === 'login') {
      login(message);
    } else if (message.action === 'setPatient') {
      if (portal === 'patient' || portal === 'display') {
        setPatient(message);
      }
    }
  }

  parentOrigin = embeddingOrigin();
  if (!parentOrigin) {
    setState('SFM-klienten åpnes i journalsystemet (som iframe), ikke alene.');
    return;
  }
  window.addEventListener('message', onMessage);
  setState('Venter på innlogging fra journalsystemet …');
  post({clientLoaded: 'success'});
}());
