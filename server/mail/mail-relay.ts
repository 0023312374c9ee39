import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { RateWindow } from './rate-window.js';
import { readSendmailMessage, SendmailInputError, type OutgoingMail } from './sendmail-message.js';
import type { SmtpTransportSettings } from './smtp-settings.js';

const HOUR_MS = 3_600_000;
/** A relay that accepts the connection and then says nothing must not hold PHP for long. */
const CONNECT_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

export interface MailRelayOptions {
  /** Absent: no mail leaves; each mail() is logged and answered false. */
  smtp?: SmtpTransportSettings;
  /** Recipients per hour across all workers (a message to three people counts three). */
  maxPerHour: number;
  log: Logger;
  now?: () => number;
}

/**
 * The main thread's end of PHP's mail(): workers hand over what PHP wrote to "sendmail", this
 * sends it through the configured SMTP relay. One place, so the rate cap holds for the server as a
 * whole and the relay's password never reaches a worker.
 */
export class MailRelay {
  private readonly rate: RateWindow;
  /** Made at the first mail: nodemailer takes ~50 ms of CPU to load, which a server's start does without. */
  private transport?: Promise<Transporter>;

  constructor(private readonly options: MailRelayOptions) {
    this.rate = new RateWindow(options.maxPerHour, HOUR_MS, options.now);
  }

  private transportTo(smtp: SmtpTransportSettings): Promise<Transporter> {
    this.transport ??= import('nodemailer').then(({ createTransport }) => createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      requireTLS: smtp.requireTLS,
      ...(smtp.auth ? { auth: smtp.auth } : {}),
      connectionTimeout: CONNECT_TIMEOUT_MS,
      greetingTimeout: CONNECT_TIMEOUT_MS,
      socketTimeout: SOCKET_TIMEOUT_MS,
    }));
    return this.transport;
  }

  /** `args`: the sendmail command's arguments; `message`: what PHP wrote to it. True once the relay accepted it. */
  async deliver(args: readonly string[], message: Buffer, worker: number): Promise<boolean> {
    const { log } = this.options;
    let mail: OutgoingMail;
    try {
      mail = readSendmailMessage(args, message);
    } catch (error) {
      if (!(error instanceof SendmailInputError)) throw error;
      log.warn({ worker, reason: error.message }, 'mail() not sent: the message cannot be delivered');
      return false;
    }
    const about = { worker, to: mail.envelope.to.slice(0, 10), recipients: mail.envelope.to.length, subject: mail.subject.slice(0, 200) };
    const smtp = this.options.smtp;
    if (!smtp) {
      log.warn(about, 'mail() not sent: no SMTP relay is configured (--smtp)');
      return false;
    }
    if (!this.rate.take(mail.envelope.to.length)) {
      log.warn({ ...about, maxPerHour: this.options.maxPerHour }, 'mail() not sent: --smtp-max-per-hour reached');
      return false;
    }
    try {
      const info = await (await this.transportTo(smtp)).sendMail({ envelope: mail.envelope, raw: mail.raw });
      log.info({ ...about, from: mail.envelope.from, relay: smtp.display, response: info.response }, 'mail sent');
      return true;
    } catch (error) {
      log.error({ ...about, relay: smtp.display, reason: (error as Error).message }, 'mail() not sent: the SMTP relay refused it or could not be reached');
      return false;
    }
  }

  close(): void {
    void this.transport?.then((transport) => transport.close(), () => undefined);
  }
}
