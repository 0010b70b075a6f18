--[[
textserve for Rspamd: each message Rspamd checks is sent, raw, to textserve's spam detector
(POST /api/v1/predict with Content-Type: message/rfc822), and its verdict becomes a symbol:

  TEXTSERVE_SPAM  the model says spam; its score (5 by default) times the spam probability
  TEXTSERVE_HAM   the model says ham; its score (-2 by default) times the ham probability
  TEXTSERVE_FAIL  no verdict (textserve unreachable, timed out, or refused the message): score 0, so mail
                  keeps flowing on Rspamd's other rules; the option says why

Each symbol's options are the spam probability, the model version and textserve's request id (the id its
inference log and POST /api/v1/feedback know the prediction by). The model's verdict is one signal among
Rspamd's rules, not a verdict on its own: it reads the text, not the sender.

Install (docs/mail-servers.md): this file in /etc/rspamd/plugins.d/, the section that enables the module in
/etc/rspamd/rspamd.conf.local (integrations/rspamd/rspamd.conf.local) and its options in
/etc/rspamd/local.d/textserve.conf (integrations/rspamd/local.d/textserve.conf). Tested with Debian's Rspamd 3.4
(tests/e2e/test_rspamd.py).
]] --

local N = 'textserve'

local rspamd_http = require "rspamd_http"
local rspamd_logger = require "rspamd_logger"
local lua_util = require "lua_util"
local ucl = require "ucl"

local settings = {
  url = 'http://127.0.0.1:8080', -- the gateway
  environment = 'production', -- X-Environment: production, or staging
  api_key = nil, -- sent as Authorization: Bearer <key> when the gateway requires keys
  timeout = 5.0, -- seconds; textserve's own upstream deadline is 10 s
  max_size = 2097152, -- bytes: the gateway's limit (413 past it); larger messages are not sent
  spam_symbol = 'TEXTSERVE_SPAM',
  ham_symbol = 'TEXTSERVE_HAM',
  fail_symbol = 'TEXTSERVE_FAIL',
  spam_score = 5.0,
  ham_score = -2.0,
}

local function fail(task, why)
  rspamd_logger.warnx(task, '%s: no verdict: %s', N, why)
  task:insert_result(settings.fail_symbol, 1.0, why)
end

local function verdict_options(verdict)
  return {
    string.format('p=%.4f', verdict.spam_probability),
    string.format('version=%s', tostring(verdict.model_version)),
    string.format('request_id=%s', tostring(verdict.request_id)),
  }
end

local function textserve_check(task)
  local size = task:get_size()
  if size > settings.max_size then
    -- As Rspamd's own scanners skip a message over their max_size: logged, no symbol.
    rspamd_logger.infox(task, '%s: not sent: %s bytes, over max_size %s', N, size, settings.max_size)
    return
  end

  local function on_answer(err, code, body)
    if err then
      return fail(task, tostring(err))
    end
    local parser = ucl.parser()
    local parsed, parse_err = parser:parse_string(tostring(body or ''))
    local answer = parsed and parser:get_object() or {}
    if code ~= 200 then
      local error_code = type(answer.error) == 'table' and answer.error.code or 'no error body'
      return fail(task, string.format('HTTP %s %s', code, tostring(error_code)))
    end
    if parse_err or type(answer.spam_probability) ~= 'number' then
      return fail(task, 'an answer without spam_probability')
    end
    local p = answer.spam_probability
    if answer.prediction == 'spam' then
      task:insert_result(settings.spam_symbol, p, verdict_options(answer))
    else
      task:insert_result(settings.ham_symbol, 1.0 - p, verdict_options(answer))
    end
  end

  local headers = { ['X-Environment'] = settings.environment }
  if settings.api_key then
    headers['Authorization'] = 'Bearer ' .. settings.api_key
  end
  rspamd_http.request({
    task = task,
    url = settings.url:gsub('/+$', '') .. '/api/v1/predict',
    body = task:get_content(),
    mime_type = 'message/rfc822',
    headers = headers,
    timeout = settings.timeout,
    callback = on_answer,
    keepalive = true,
    max_size = 65536, -- an answer is a few hundred bytes: a larger one is refused, not held in the worker's memory
  })
end

local opts = rspamd_config:get_all_opt(N)
if not opts then
  lua_util.disable_module(N, 'config')
  return
end
settings = lua_util.override_defaults(settings, opts)
rspamd_logger.infox(rspamd_config, '%s: enabled, %s (%s)', N, settings.url, settings.environment)

local id = rspamd_config:register_symbol({
  name = 'TEXTSERVE_CHECK',
  type = 'callback',
  callback = textserve_check,
  augmentations = { string.format('timeout=%f', settings.timeout) },
})
local verdicts = {
  { settings.spam_symbol, settings.spam_score, 'textserve says spam (score times the spam probability)' },
  { settings.ham_symbol, settings.ham_score, 'textserve says ham (score times the ham probability)' },
  { settings.fail_symbol, 0.0, 'textserve gave no verdict (unreachable, timed out or refused the message)' },
}
for _, verdict in ipairs(verdicts) do
  rspamd_config:register_symbol({
    name = verdict[1],
    type = 'virtual',
    parent = id,
    score = verdict[2],
    group = N,
    description = verdict[3],
  })
end
