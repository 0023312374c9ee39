import addressparser from 'nodemailer/lib/addressparser';

/** A message as PHP's mail() hands it to sendmail, read the way `sendmail -t` would read it. */
export interface OutgoingMail {
  /** SMTP envelope: MAIL FROM and RCPT TO. */
  envelope: { from: string; to: string[] };
  /** The message as sent: PHP's text with CRLF line ends, Bcc removed (sendmail -t never shows it to anyone). */
  raw: Buffer;
  /** For the log line; as written (possibly RFC 2047 encoded). */
  subject: string;
}

export class SendmailInputError extends Error {}

const RECIPIENT_HEADERS = new Set(['to', 'cc', 'bcc']);
/** sendmail options that take a value, as `-fADDR` or `-f ADDR`. */
const OPTIONS_WITH_VALUE = new Set(['f', 'F', 'r', 'o', 'B', 'N', 'R', 'V', 'X', 'L', 'O', 'p', 'q', 'h', 'C']);

/**
 * `args`: the command after its name (php.ini's sendmail_path, then mail()'s fifth parameter,
 * e.g. PHPMailer's `-fwordpress@example.com`). `message`: what PHP wrote to its stdin: the headers
 * (To and Subject first), a blank line, the body. Pure: no I/O.
 */
export function readSendmailMessage(args: readonly string[], message: Buffer): OutgoingMail {
  const { envelopeFrom, readHeaders, recipients } = readArgs(args);
  const split = headerEnd(message);
  const headerText = message.subarray(0, split.at).toString('latin1');
  const fields = unfold(headerText);

  const to = [...recipients];
  if (readHeaders) {
    for (const field of fields.filter((f) => RECIPIENT_HEADERS.has(f.name))) to.push(...addresses(field.value));
  }
  const unique = [...new Set(to.map((address) => address.toLowerCase()))];
  if (unique.length === 0) throw new SendmailInputError('no recipients (no To, Cc or Bcc)');

  const from = envelopeFrom ?? firstAddress(fields, 'return-path') ?? firstAddress(fields, 'sender') ?? firstAddress(fields, 'from');
  if (!from) throw new SendmailInputError('no sender (no -f and no From header)');

  const kept = fields.filter((f) => f.name !== 'bcc').map((f) => f.raw).join('');
  // Every line ends in CRLF on the wire, as sendmail sends it: relays that refuse bare LF (SMTP
  // smuggling defences, e.g. Postfix's smtpd_forbid_bare_newline) would otherwise reject the mail.
  const text = kept + message.subarray(split.at).toString('latin1');
  const raw = Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
  const subject = fields.find((f) => f.name === 'subject')?.value.trim() ?? '';
  return { envelope: { from, to: unique }, raw, subject };
}

function readArgs(args: readonly string[]): { envelopeFrom?: string; readHeaders: boolean; recipients: string[] } {
  let envelopeFrom: string | undefined;
  let readHeaders = false;
  const recipients: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      recipients.push(...args.slice(i + 1).flatMap(addresses));
      break;
    }
    if (!arg.startsWith('-') || arg.length === 1) {
      recipients.push(...addresses(arg));
      continue;
    }
    const letter = arg[1];
    if (letter === 't') readHeaders = true;
    if (!OPTIONS_WITH_VALUE.has(letter)) continue;
    const value = arg.length > 2 ? arg.slice(2) : args[++i];
    if ((letter === 'f' || letter === 'r') && value) envelopeFrom = addresses(value)[0] ?? envelopeFrom;
  }
  return { envelopeFrom, readHeaders, recipients };
}

interface HeaderField {
  /** Lower case. */
  name: string;
  /** Unfolded, without the name and colon. */
  value: string;
  /** As written, continuation lines and line ends included. */
  raw: string;
}

/** Where the body starts (just after the blank line), or the whole message when there is none. */
function headerEnd(message: Buffer): { at: number } {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return { at: message.length };
  if (lf === -1 || (crlf !== -1 && crlf < lf)) return { at: crlf + 2 };
  return { at: lf + 1 };
}

function unfold(headerText: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of headerText.split(/(?<=\n)/)) {
    const last = fields.at(-1);
    if (/^[ \t]/.test(line) && last) {
      last.raw += line;
      last.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      // Not a header (PHP's own blank line ends the block): kept as written.
      fields.push({ name: '', value: '', raw: line });
      continue;
    }
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim(), raw: line });
  }
  return fields;
}

function addresses(text: string): string[] {
  return addressparser(text, { flatten: true }).map((a) => a.address).filter((a) => a.includes('@') && !/[\s<>]/.test(a));
}

function firstAddress(fields: HeaderField[], name: string): string | undefined {
  const field = fields.find((f) => f.name === name);
  return field ? addresses(field.value)[0] : undefined;
}
