"""Email over SMTP (smtplib): STARTTLS on a submission port, or implicit TLS, optional login."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from connectors.alerts.base import DeliveryError, Redactor
from connectors.alerts.templates import Templates
from operators.alert_router import Target
from operators.records import Alert


class SmtpChannel:
    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        templates: Templates,
        redact: Redactor,
        timeout_s: float,
        user: str = "",
        password: str = "",
        starttls: bool = True,
        implicit_tls: bool = False,
        ca_file: str = "",
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._templates = templates
        self._redact = redact
        self._timeout = timeout_s
        self._user = user
        self._password = password
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._tls = ssl.create_default_context(cafile=ca_file or None)

    def message(self, alert: Alert, target: Target) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = self._templates.render("email_subject.txt.j2", alert, target)
        msg["From"] = self._sender
        msg["To"] = target.recipient
        msg["Date"] = formatdate(alert.created_ms / 1000, usegmt=True)
        # The same alert to the same person has the same Message-ID: mail systems drop repeats.
        digest = hashlib.sha256(f"{alert.key}|{target.recipient}".encode()).hexdigest()[:32]
        msg["Message-ID"] = f"<{digest}@scorpius>"
        msg["X-Scorpius-Alert-Key"] = alert.key
        msg.set_content(self._templates.render("email_body.txt.j2", alert, target) + "\n")
        return msg

    def send(self, alert: Alert, target: Target) -> None:
        msg = self.message(alert, target)
        try:
            smtp: smtplib.SMTP
            if self._implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    self._host, self._port, timeout=self._timeout, context=self._tls
                )
            else:
                smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with smtp:
                if self._starttls and not self._implicit_tls:
                    smtp.starttls(context=self._tls)
                if self._user:
                    smtp.login(self._user, self._password)
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                self._redact(f"smtp refused recipient: {exc.recipients}"),
                retryable=all(400 <= c < 500 for c in codes),
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise DeliveryError(
                self._redact(f"smtp answered {exc.smtp_code}: {text}"),
                # 4xx is transient by RFC 5321; 5xx (bad login, policy) will not heal by itself.
                retryable=400 <= exc.smtp_code < 500,
            ) from None
        except (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError) as exc:
            # No STARTTLS, or a certificate we do not trust: configuration, not a passing fault.
            raise DeliveryError(
                self._redact(f"smtp refused by policy: {type(exc).__name__}: {exc}"),
                retryable=False,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                self._redact(f"smtp unreachable: {type(exc).__name__}: {exc}"), retryable=True
            ) from None
