// Sign-in with an API key: the key's role decides what the console offers (docs/api.md, roles).
import { useState } from "preact/hooks";
import type { Me } from "../api";
import { Card, ErrorLine, navigate } from "../components";

export function SignInPage({ me, onSignIn }: { me: Me | null; onSignIn: (key: string | null) => Promise<string | null> }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const failure = await onSignIn(key.trim());
    setError(failure);
    if (!failure) navigate("/live");
  };
  return (
    <div class="signin">
      <Card title={me ? `Signed in as ${me.name} (${me.role})` : "Sign in"}>
        <form onSubmit={(e) => void submit(e)}>
          <p class="muted">
            Paste an API key (<code>scorpius api-keys create --role viewer|analyst|admin</code>). It stays in this browser only.
          </p>
          <input data-testid="api-key" type="password" autoComplete="off" placeholder="sk_…" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
          <button class="primary" data-testid="sign-in" type="submit">
            Sign in
          </button>
          {me && (
            <button type="button" data-testid="sign-out" onClick={() => void onSignIn(null)}>
              Sign out
            </button>
          )}
        </form>
        <ErrorLine error={error} />
      </Card>
    </div>
  );
}
