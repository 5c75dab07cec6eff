_httpout() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="httpout"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        httpout)
            opts="-i -o -h -V --input --output --hmode --port --ifce --listen --cert --pkey --ca --ca_optional --maxc --maxp --timeout --header_timeout --max_conn_rate --trusted_proxies --close --max_client_errors --grace --run_for --hdrs --server_tokens --sutc --trace --cors --reqlog --users --auth_file --digest --metrics --metrics_allow --health --utc_timing --log --access_log --log_format --rdirs --wdir --dlist --norange --zmax --wait_new --maxs --max_depth --hidden --fsync --index --mime_types --block_size --cache_control --cache_rule --max_cache_segs --uploads_path --require_id --require_placeholder --placeholder_ttl --progress_files --uploads_admin --resume_ttl --resume_budget --sink --hold --reopen --quit --ice --max_async_buf --burst --batch --source_password --admin_password --admin_user --master --master_interval --rt --rate --metaint --title --ice_hdr --mount --ext --mime --exec --exec_max --dst --post --ka --cte --watch --delete --cafile --jobs --user_agent --blockio --js --config --print-config --help --version"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --input)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -i)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --output)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -o)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hmode)
                    COMPREPLY=($(compgen -W "default push source" -- "${cur}"))
                    return 0
                    ;;
                --port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ifce)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pkey)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ca)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ca_optional)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --maxc)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --maxp)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --header_timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max_conn_rate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --trusted_proxies)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --close)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max_client_errors)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --grace)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --run_for)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hdrs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --server_tokens)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sutc)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --trace)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cors)
                    COMPREPLY=($(compgen -W "off on auto" -- "${cur}"))
                    return 0
                    ;;
                --reqlog)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --users)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auth_file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --digest)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --metrics)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --metrics_allow)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --health)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --utc_timing)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --access_log)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log_format)
                    COMPREPLY=($(compgen -W "gpac common combined json" -- "${cur}"))
                    return 0
                    ;;
                --rdirs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --wdir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dlist)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --norange)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --zmax)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --wait_new)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --maxs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max_depth)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hidden)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --fsync)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --index)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mime_types)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --block_size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache_control)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cache_rule)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max_cache_segs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --uploads_path)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --require_id)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --require_placeholder)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --placeholder_ttl)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --progress_files)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --uploads_admin)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --resume_ttl)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --resume_budget)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sink)
                    COMPREPLY=($(compgen -W "auto live file" -- "${cur}"))
                    return 0
                    ;;
                --hold)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reopen)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ice)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max_async_buf)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --burst)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --batch)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --source_password)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --admin_password)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --admin_user)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --master)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --master_interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --rt)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --rate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --metaint)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --title)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ice_hdr)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mount)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ext)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mime)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exec)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --exec_max)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dst)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --post)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ka)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cte)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --watch)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --delete)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cafile)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --jobs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --user_agent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --blockio)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --js)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _httpout -o nosort -o bashdefault -o default httpout
else
    complete -F _httpout -o bashdefault -o default httpout
fi
