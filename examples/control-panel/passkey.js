// Passkeys and security keys in the control panel: served as
// /static/passkey.js (embedded in the program at build time; the
// Content-Security-Policy forbids inline script) on the pages with a
// passkey box (flow_passkey.c).
//
// A box is <div data-passkey="register|login|signin" data-begin=URL
// data-finish=URL> with the CSRF token and maybe a label or a "remember"
// box in it.  Its button:
//   1. POSTs the box's inputs to data-begin; the answer is {"options": ...},
//      the options libmfa made;
//   2. hands them to navigator.credentials.create (register) or .get,
//      through PublicKeyCredential.parseCreationOptionsFromJSON /
//      parseRequestOptionsFromJSON where the browser has them, else by
//      decoding the base64url fields here;
//   3. POSTs the inputs again with "response", the credential's toJSON()
//      (or the same JSON built here where toJSON is missing), to
//      data-finish; the answer is {"next": URL} (go there) or
//      {"error": text} (shown in the box).
(function () {
  'use strict';
  if (window.cpPasskeyReady) return;
  window.cpPasskeyReady = true;

  var PKC = window.PublicKeyCredential;
  var supported = !!(PKC && navigator.credentials &&
                     navigator.credentials.create && navigator.credentials.get);

  function fromB64u(s) {
    s = String(s).replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64u(buf) {
    var bytes = new Uint8Array(buf), bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var o = { type: d.type, id: fromB64u(d.id) };
      if (d.transports) o.transports = d.transports;
      return o;
    });
  }

  function creationOptions(j) {
    if (typeof PKC.parseCreationOptionsFromJSON === 'function')
      return PKC.parseCreationOptionsFromJSON(j);
    var o = Object.assign({}, j);
    o.challenge = fromB64u(j.challenge);
    o.user = Object.assign({}, j.user, { id: fromB64u(j.user.id) });
    if (j.excludeCredentials) o.excludeCredentials = descriptors(j.excludeCredentials);
    return o;
  }

  function requestOptions(j) {
    if (typeof PKC.parseRequestOptionsFromJSON === 'function')
      return PKC.parseRequestOptionsFromJSON(j);
    var o = Object.assign({}, j);
    o.challenge = fromB64u(j.challenge);
    if (j.allowCredentials) o.allowCredentials = descriptors(j.allowCredentials);
    return o;
  }

  // PublicKeyCredential.toJSON(), or the same fields by hand.
  function credentialJSON(c) {
    if (typeof c.toJSON === 'function') return c.toJSON();
    var r = c.response;
    var out = {
      id: c.id,
      rawId: toB64u(c.rawId),
      type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || null,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64u(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
      if (r.getAuthenticatorData) out.response.authenticatorData = toB64u(r.getAuthenticatorData());
      var pk = r.getPublicKey ? r.getPublicKey() : null;
      if (pk) out.response.publicKey = toB64u(pk);
      if (r.getPublicKeyAlgorithm) out.response.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      out.response.userHandle = r.userHandle ? toB64u(r.userHandle) : null;
    }
    return out;
  }

  // What the browser's refusal means, in the user's words.
  function browserError(e, kind) {
    switch (e && e.name) {
    case 'NotAllowedError':
      return 'Nothing was ' + (kind === 'register' ? 'saved' : 'used') +
        ': the request was cancelled or timed out. Try again when your key is ready.';
    case 'InvalidStateError':
      return kind === 'register'
        ? 'This security key or passkey is already registered to your account.'
        : 'That security key or passkey cannot be used here.';
    case 'SecurityError':
      return 'Passkeys do not work at this address. Open the site at its usual address and try again.';
    case 'NotSupportedError':
      return 'This browser or key does not support what the site asked for. Try another key.';
    case 'AbortError':
      return 'The request was cancelled. Try again.';
    default:
      return 'Your browser could not use the key (' + ((e && e.name) || 'error') + '). Try again.';
    }
  }

  function fields(box, extra) {
    var p = new URLSearchParams();
    box.querySelectorAll('input[name]').forEach(function (i) {
      if ((i.type === 'checkbox' || i.type === 'radio') && !i.checked) return;
      p.append(i.name, i.value);
    });
    Object.keys(extra || {}).forEach(function (k) { p.append(k, extra[k]); });
    return p;
  }

  // POST the form; the JSON answer, or an {"error"} made here.
  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (r) {
      var type = r.headers.get('Content-Type') || '';
      if (type.indexOf('application/json') !== 0)
        return { error: 'The server did not answer (' + r.status + '). Reload the page and try again.' };
      return r.json();
    }, function () {
      return { error: 'The server cannot be reached. Check your connection and try again.' };
    });
  }

  function wire(box) {
    var kind = box.getAttribute('data-passkey');
    var button = box.querySelector('button');
    var err = box.querySelector('[role=alert]');
    var status = box.querySelector('[role=status]');
    var nojs = box.querySelector('[data-passkey-nojs]');
    if (!supported) {
      if (nojs) nojs.textContent = 'This browser cannot use passkeys or security keys. ' +
        'Use another way, or a current browser.';
      return;
    }
    if (nojs) nojs.hidden = true;
    button.hidden = false;

    function say(text) { status.textContent = text || ''; }
    function fail(text) {
      err.textContent = text;
      err.hidden = false;
      say('');
      button.disabled = false;
      button.focus();
    }
    function answer(j) {
      if (j && j.next) {
        window.location.assign(j.next);
        return true;
      }
      fail((j && j.error) || 'Something went wrong. Try again.');
      return false;
    }

    button.addEventListener('click', function () {
      err.hidden = true;
      button.disabled = true;
      say('Asking the server...');
      post(box.getAttribute('data-begin'), fields(box)).then(function (j) {
        if (!j || !j.options) return answer(j);
        say(kind === 'register'
          ? 'Follow your browser\'s steps to save the passkey.'
          : 'Unlock your passkey or touch your security key.');
        var ask;
        try {
          ask = kind === 'register'
            ? navigator.credentials.create({ publicKey: creationOptions(j.options) })
            : navigator.credentials.get({ publicKey: requestOptions(j.options) });
        } catch (e) {
          return fail(browserError(e, kind));
        }
        return ask.then(function (cred) {
          say('Checking...');
          var json = JSON.stringify(credentialJSON(cred));
          return post(box.getAttribute('data-finish'),
                      fields(box, { response: json })).then(answer);
        }, function (e) {
          fail(browserError(e, kind));
        });
      });
    });
  }

  document.querySelectorAll('[data-passkey]').forEach(wire);
})();
