// The console's shell: sign-in state (the key's role), the navigation and a hash router.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, storedKey, storeKey, type Me } from "./api";
import { AlertsPage } from "./pages/alerts";
import { LivePage } from "./pages/live";
import { MevPage } from "./pages/mev";
import { RulesPage } from "./pages/rules";
import { SignInPage } from "./pages/signin";
import { StatusPage } from "./pages/status";
import { TxPage } from "./pages/tx";
import "./style.css";

const PAGES: [string, string][] = [
  ["live", "Live"],
  ["mev", "MEV"],
  ["alerts", "Alerts"],
  ["rules", "Rules"],
  ["status", "Status"],
];

function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checked, setChecked] = useState(false);
  const route = useRoute();

  const signIn = async (key: string | null): Promise<string | null> => {
    storeKey(key);
    if (!key) {
      setMe(null);
      return null;
    }
    try {
      setMe(await api<Me>("/api/v1/me"));
      return null;
    } catch (err) {
      storeKey(null);
      setMe(null);
      return err instanceof ApiError ? err.detail || err.code : String(err);
    }
  };

  useEffect(() => {
    void signIn(storedKey()).finally(() => setChecked(true));
  }, []);

  if (!checked) return <p class="muted">…</p>;
  const page = route[0] ?? "live";
  const signedIn = me !== null;
  let body;
  if (!signedIn || page === "signin") body = <SignInPage me={me} onSignIn={signIn} />;
  else if (page === "tx" && route[1]) body = <TxPage hash={route[1]} />;
  else if (page === "mev") body = <MevPage />;
  else if (page === "alerts") body = <AlertsPage />;
  else if (page === "rules") body = <RulesPage me={me} />;
  else if (page === "status") body = <StatusPage />;
  else body = <LivePage />;

  return (
    <>
      <header class="top">
        <a class="brand" href="#/live">
          ♏ Scorpius
        </a>
        <nav>
          {PAGES.map(([id, title]) => (
            <a key={id} href={`#/${id}`} class={page === id ? "active" : ""}>
              {title}
            </a>
          ))}
        </nav>
        <a class="who" href="#/signin" data-testid="who">
          {me ? `${me.name} · ${me.role}` : "sign in"}
        </a>
      </header>
      <main data-page={signedIn ? page : "signin"}>{body}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
